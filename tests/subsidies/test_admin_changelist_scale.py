"""The payment lines' changelist at province scale (a million and more lines): no COUNT(*) of
the whole table before a page, month choices without reading every line, later pages skipping
rows by key. Asserted on the SQL the page runs, never on time."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from residents.paginators import LargeTablePaginator
from subsidies.models import PaymentLine
from tests.subsidies.test_admin_finance import finance, may_batch  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/subsidies/paymentline/"


def _line_sql(captured) -> list[str]:
    return [q["sql"] for q in captured if '"subsidies_paymentline"' in q["sql"]]


def _get(client, url, query=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query or {})
    assert response.status_code == 200
    return response, captured.captured_queries


@pytest.mark.postgres
def test_the_unfiltered_list_is_not_counted_row_by_row(finance, may_batch, monkeypatch):  # noqa: F811
    monkeypatch.setattr(LargeTablePaginator, "exact_below", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE subsidies_paymentline")
    response, queries = _get(finance, CHANGELIST)
    # Finance of a county sees its batches' lines: the count is the planner's estimate.
    assert not any("COUNT(" in sql.upper() for sql in _line_sql(queries))
    assert any(q["sql"].startswith("EXPLAIN") for q in queries)
    assert response.context["cl"].paginator.estimated
    assert "约" in response.content.decode()


def test_small_lists_and_the_batch_review_are_counted_exactly(finance, may_batch):  # noqa: F811
    lines = PaymentLine.objects.filter(batch=may_batch).count()
    whole, _ = _get(finance, CHANGELIST)
    review, queries = _get(finance, CHANGELIST, {"batch__id__exact": may_batch.pk})
    for response in (whole, review):
        assert not response.context["cl"].paginator.estimated
        assert response.context["cl"].result_count == lines
    # No second count of the unfiltered table beside the review's ("of N in total").
    counts = [sql for sql in _line_sql(queries) if "COUNT(*)" in sql.upper()]
    assert counts and all(" WHERE " in sql.upper() for sql in counts)
    assert review.context["cl"].full_result_count is None


def test_month_choices_are_the_batches_months_not_a_distinct_over_every_line(finance, may_batch):  # noqa: F811
    response, queries = _get(finance, CHANGELIST)
    assert "?period=2024-05" in response.content.decode()
    assert not any("DISTINCT" in sql.upper() for sql in _line_sql(queries))
    chosen = finance.get(CHANGELIST, {"period": "2024-05"})
    assert chosen.context["cl"].result_count == PaymentLine.objects.filter(batch=may_batch).count()


def test_a_later_page_skips_lines_by_key_before_joining_their_payees(
    finance,  # noqa: F811
    may_batch,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr("subsidies.admin.PaymentLineAdmin.list_per_page", 1)
    ordered = list(PaymentLine.objects.order_by("batch_id", "id").values_list("pk", flat=True))
    response, queries = _get(finance, CHANGELIST, {"p": "2"})
    assert [line.pk for line in response.context["cl"].result_list] == ordered[1:2]
    offsets = [sql for sql in _line_sql(queries) if "OFFSET" in sql.upper()]
    assert offsets and all("residents_elder" not in sql for sql in offsets)
