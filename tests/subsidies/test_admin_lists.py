"""Finance's lists read at a glance: who is paid and how much before anything else, amounts
with thousands separators, the period as its month with a month filter."""

from django.urls import reverse

from accounts.templatetags.amounts import yuan
from subsidies.admin import PaymentLineAdmin
from tests.subsidies.test_admin_finance import finance, may_batch  # noqa: F401 (fixtures)


def test_amounts_read_with_thousands_separators():
    assert yuan("1234567.5") == "1,234,567.50"
    assert yuan(None) == ""


def test_the_batch_review_shows_payee_and_amount_first_and_months_not_days(finance, may_batch):  # noqa: F811
    assert PaymentLineAdmin.list_display[1:3] == ["payee", "amount_yuan"]
    page = finance.get(
        reverse("admin:subsidies_paymentline_changelist"), {"batch__id__exact": may_batch.pk}
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert '<th class="total-amount">1,010.00</th>' in body
    assert "2024年5月" in body and "过去7天" not in body
    by_month = finance.get(
        reverse("admin:subsidies_paymentline_changelist"),
        {"batch__id__exact": may_batch.pk, "period": "2024-05"},
    )
    assert by_month.status_code == 200
    assert by_month.context["cl"].result_count == page.context["cl"].result_count
    none = finance.get(reverse("admin:subsidies_paymentline_changelist"), {"period": "2023-01"})
    assert none.context["cl"].result_count == 0
    batches = finance.get(reverse("admin:subsidies_paymentbatch_changelist")).content.decode()
    assert "1,010.00" in batches and "2024年5月" in batches
