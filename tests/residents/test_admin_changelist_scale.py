"""The elders changelist at province scale: no COUNT(*) of the whole table before a page,
exact lookups for whole ID numbers and elder codes, filter choices without reading every
elder. Asserted on the SQL the page runs, never on time."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from residents.models import Elder
from residents.paginators import LargeTablePaginator
from tests.factories import ElderFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/residents/elder/"
CUIYUAN_COMMUNITY = "330106004001"  # 翠苑一区社区, 翠苑街道
BEISHAN_COMMUNITY = "330106001001"  # 保俶塔社区, 北山街道


@pytest.fixture
def superuser_client(client, zhejiang, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_login(user)
    return client


@pytest.fixture
def elders(zhejiang):
    cuiyuan = Region.objects.get(code=CUIYUAN_COMMUNITY)
    return [ElderFactory(residence_region=cuiyuan) for _ in range(3)]


def _elder_sql(captured) -> list[str]:
    return [q["sql"] for q in captured if '"residents_elder"' in q["sql"]]


def _full_counts(captured) -> list[str]:
    """COUNT queries over the elder table with no WHERE clause: a read of the whole table."""
    return [
        sql
        for sql in _elder_sql(captured)
        if "COUNT(" in sql.upper() and " WHERE " not in sql.upper()
    ]


def _get(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), captured.captured_queries


def _analyze():
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE residents_elder")


@pytest.mark.postgres
def test_the_unfiltered_list_takes_its_count_from_the_planner_not_count_star(
    superuser_client, elders, monkeypatch
):
    monkeypatch.setattr(LargeTablePaginator, "exact_below", 0)
    _analyze()
    page, queries = _get(superuser_client, CHANGELIST)
    assert _full_counts(queries) == []
    assert any("reltuples" in q["sql"] for q in queries)
    assert "约 3" in page  # the figure is marked as an estimate
    for elder in elders:
        assert elder.name in page


@pytest.mark.postgres
def test_a_page_past_an_estimated_end_is_empty_not_an_error(superuser_client, elders, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "exact_below", 0)
    monkeypatch.setattr("residents.admin.ElderAdmin.list_per_page", 1)
    _analyze()
    page, queries = _get(superuser_client, f"{CHANGELIST}?p=3")
    assert _full_counts(queries) == []
    assert elders[2].name in page


@pytest.mark.postgres
def test_a_scoped_list_is_estimated_from_the_plan_without_counting(
    client, elders, django_user_model, monkeypatch
):
    monkeypatch.setattr(LargeTablePaginator, "exact_below", 0)
    _analyze()
    user = django_user_model.objects.create_user("bureau1", password="pw-123456!", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_elder"))
    assign_role(user=user, role=Role.BUREAU, region=Region.objects.get(code="330106"))
    client.force_login(user)
    page, queries = _get(client, CHANGELIST)
    assert not any("COUNT(" in sql.upper() for sql in _elder_sql(queries))
    assert any(q["sql"].startswith("EXPLAIN") for q in queries)
    for elder in elders:
        assert elder.name in page


def test_small_lists_are_counted_exactly(superuser_client, elders):
    page, _ = _get(superuser_client, CHANGELIST)
    assert "约" not in page
    assert re.search(r"\b3 老年人", page)


def test_a_filtered_list_is_counted_exactly_and_not_against_the_whole_table(
    superuser_client, elders, zhejiang
):
    ElderFactory(residence_region=Region.objects.get(code=BEISHAN_COMMUNITY))
    page, queries = _get(superuser_client, f"{CHANGELIST}?residence=330106004")
    assert re.search(r"\b3 老年人", page) and "约" not in page
    # show_full_result_count is off: no second COUNT of the unfiltered table ("of 4 in total").
    assert _full_counts(queries) == []


def test_a_whole_id_number_is_looked_up_by_its_index_alone(superuser_client, elders):
    target = elders[1]
    spaced = f"{target.id_number[:6]} {target.id_number[6:14]} {target.id_number[14:].lower()}"
    page, queries = _get(superuser_client, f"{CHANGELIST}?q={spaced}")
    assert target.name in page and elders[0].name not in page
    searched = [sql for sql in _elder_sql(queries) if target.id_number in sql]
    assert searched
    for sql in searched:
        assert "LIKE" not in sql.upper() and "UPPER(" not in sql.upper()


def test_an_elder_code_is_looked_up_exactly(superuser_client, elders):
    target = elders[2]
    page, queries = _get(superuser_client, f"{CHANGELIST}?q={target.elder_code.lower()}")
    assert target.name in page and elders[0].name not in page
    assert not any("LIKE" in sql.upper() for sql in _elder_sql(queries))


def test_other_terms_still_search_names(superuser_client, elders):
    page, _ = _get(superuser_client, f"{CHANGELIST}?q={elders[0].name}")
    assert elders[0].name in page and elders[1].name not in page


def test_a_name_search_reads_names_alone(superuser_client, elders):
    # Numbers and codes are looked up whole above; an OR with them would keep an index of
    # names from serving the search.
    page, queries = _get(superuser_client, f"{CHANGELIST}?q={elders[1].name[1:]}")
    assert elders[1].name in page
    searched = [sql for sql in _elder_sql(queries) if "LIKE" in sql.upper()]
    assert searched
    for sql in searched:
        where = sql.upper().split(" WHERE ", 1)[1]
        assert "ID_NUMBER" not in where and "ELDER_CODE" not in where


def test_each_word_of_a_search_narrows_the_names(superuser_client, elders):
    target = elders[2]
    first, rest = target.name[:1], target.name[1:]
    found = superuser_client.get(CHANGELIST, {"q": f'{first} "{rest}"'}).context["cl"]
    assert [elder.pk for elder in found.result_list] == [target.pk]
    none = superuser_client.get(CHANGELIST, {"q": f"{target.name} 不在名册"}).context["cl"]
    assert list(none.result_list) == []


@pytest.mark.postgres
def test_a_name_search_of_three_characters_is_served_by_the_trigram_index(elders):
    with connection.cursor() as cursor:
        # On a few rows any plan is cheap: the other ways of reading the table are put out.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        names = Elder.objects.filter(name__icontains="王小明").order_by().values("pk")
        sql, params = names.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "elder_name_trgm_idx" in plan


def test_region_filter_choices_name_the_places_of_elders_without_reading_them_all(
    superuser_client, elders
):
    page, queries = _get(superuser_client, CHANGELIST)
    # The residence choices: Xihu and 翠苑街道 (where the elders live), not 北山街道.
    assert "?residence=330106004" in page
    assert "?residence=330106001" not in page
    assert "?hukou=330106" in page
    # No DISTINCT over the elders for the choices: each region is asked whether it has any.
    assert not any("DISTINCT" in sql.upper() for sql in _elder_sql(queries))


def test_a_scoped_users_filter_choices_stay_within_what_they_see(client, elders, django_user_model):
    from django.contrib.auth.models import Permission

    ElderFactory(residence_region=Region.objects.get(code=BEISHAN_COMMUNITY))
    user = django_user_model.objects.create_user("street1", password="pw-123456!", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_elder"))
    assign_role(user=user, role=Role.STREET_WORKER, region=Region.objects.get(code="330106004"))
    client.force_login(user)
    page, _ = _get(client, CHANGELIST)
    assert "?residence=330106004" in page
    assert "?residence=330106001" not in page
    assert Elder.objects.count() == 4


def test_a_later_page_skips_rows_by_key_before_joining_their_regions(
    superuser_client, elders, monkeypatch
):
    monkeypatch.setattr("residents.admin.ElderAdmin.list_per_page", 1)
    page, queries = _get(superuser_client, f"{CHANGELIST}?p=2")
    assert elders[1].name in page and elders[0].name not in page
    offsets = [sql for sql in _elder_sql(queries) if "OFFSET" in sql.upper()]
    assert offsets and all("regions_region" not in sql for sql in offsets)


@pytest.mark.postgres
def test_a_user_whose_scope_covers_nothing_gets_an_empty_list(
    client, elders, django_user_model, monkeypatch
):
    from django.contrib.auth.models import Permission

    monkeypatch.setattr(LargeTablePaginator, "exact_below", 0)
    user = django_user_model.objects.create_user("nobody1", password="pw-123456!", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_elder"))
    client.force_login(user)
    page, _ = _get(client, CHANGELIST)
    assert re.search(r"\b0 老年人", page)
    assert all(elder.name not in page for elder in elders)
