"""The dashboard's money is money paid: a line held for want of the payee's account is in no
cell and no total; the table shows held lines apart, per month and in all (count and amount)."""

import datetime
from decimal import Decimal

import pytest

from dashboards import selectors
from dashboards.selectors import AllowanceCell, Period
from regions.models import Region
from residents.id_numbers import with_check_character
from subsidies.choices import BatchKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.payees import set_payee_account
from subsidies.schemes import load_schemes
from tests.dashboards.conftest import CUIYUAN_COMMUNITY, XIHU
from tests.factories import ElderFactory
from tests.subsidies.conftest import card_number_for

D = datetime.date
MARCH, APRIL = D(2024, 3, 1), D(2024, 4, 1)
MARCH_APRIL = Period.of_months(MARCH, APRIL, D(2026, 1, 15))
HELD = "领取人未登记可用的领取账户"


def elder(n):
    return ElderFactory(
        id_number=with_check_character(f"330106{1940:04d}0301{n:03d}"),
        hukou_region=Region.objects.get(code=CUIYUAN_COMMUNITY),
    )


@pytest.fixture
def lines(rulebook):
    load_schemes()
    eighty = Scheme.objects.get(code="high_age_80_89")
    xihu = Region.objects.get(code=XIHU)
    paid, unpaid, later = elder(1), elder(2), elder(3)
    set_payee_account(
        payee=paid, channel="bank_card", bank="测试银行", account_number=card_number_for(1)
    )
    for period in (MARCH, APRIL):
        batch = PaymentBatch.objects.create(region=xihu, period=period, kind=BatchKind.REGULAR)
        PaymentLine.objects.create(
            batch=batch, scheme=eighty, period=period, elder=paid, amount=Decimal("60.00")
        )
        PaymentLine.objects.create(
            batch=batch,
            scheme=eighty,
            period=period,
            elder=unpaid,
            amount=Decimal("60.00"),
            status=LineStatus.HELD,
            hold_reason=HELD,
        )
    april = PaymentBatch.objects.get(period=APRIL)
    PaymentLine.objects.create(
        batch=april,
        scheme=eighty,
        period=MARCH,
        elder=later,
        amount=Decimal("0.50"),
        status=LineStatus.HELD,
        hold_reason=HELD,
    )
    return eighty


def test_held_lines_are_in_no_total_and_are_shown_apart(lines, bureau, region):
    table = selectors.allowance_totals(bureau, region(XIHU), MARCH_APRIL)
    assert table.cell(MARCH, lines.code) == AllowanceCell(1, Decimal("60.00"))
    assert table.cell(APRIL, lines.code) == AllowanceCell(1, Decimal("60.00"))
    assert table.month_totals[APRIL] == AllowanceCell(1, Decimal("60.00"))
    assert table.total == AllowanceCell(2, Decimal("120.00"))
    assert table.held_by_month == {
        MARCH: AllowanceCell(1, Decimal("60.00")),
        APRIL: AllowanceCell(2, Decimal("60.50")),
    }
    assert table.held == AllowanceCell(3, Decimal("120.50"))
    assert [row[3] for row in table.rows] == [
        table.held_by_month[MARCH],
        table.held_by_month[APRIL],
    ]
    assert table.chart()["datasets"][0]["data"] == ["60.00", "60.00"]


def test_a_scheme_with_only_held_lines_has_no_paid_cell(lines, bureau, region):
    PaymentLine.objects.filter(status=LineStatus.PENDING).update(
        status=LineStatus.HELD, hold_reason=HELD
    )
    table = selectors.allowance_totals(bureau, region(XIHU), MARCH_APRIL)
    assert table.cells == {} and table.total == AllowanceCell(0, Decimal("0.00"))
    assert table.held == AllowanceCell(5, Decimal("240.50"))


def test_the_page_shows_the_held_column(lines, bureau, client_for):
    html = client_for(bureau).get("/dashboard/", {"start": "2024-03", "end": "2024-04"})
    html = html.content.decode()
    assert "120.00" in html and "120.50" in html
    assert 'class="num held"' in html
