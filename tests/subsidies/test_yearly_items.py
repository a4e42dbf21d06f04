"""A yearly item is paid once for every calendar year it is in force: in the payment month to
those eligible on its 1st or, in the year it comes into force after the payment month, in the
first month it is in force (docs/policy.md §1, Yearly items)."""

import datetime
from decimal import Decimal

import pytest

from regions.models import PolicyValue, Region
from regions.services import add_policy_value
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run
from subsidies.schedules import yearly_item_due

D = datetime.date
SEVENTY = "xihu_e_allowance_70_79"
LOST_CHILD = "xihu_e_allowance_lost_only_child"


def run(period: datetime.date, region: str = "330106"):
    return request_allowance_run(region=Region.objects.get(code=region), period=period, sync=True)


def yearly_paid(elder) -> dict[datetime.date, dict[str, Decimal]]:
    paid: dict[datetime.date, dict[str, Decimal]] = {}
    for period, code, amount in PaymentLine.objects.filter(
        elder=elder, scheme__code__in=[SEVENTY, LOST_CHILD]
    ).values_list("period", "scheme__code", "amount"):
        paid.setdefault(period, {})[code] = amount
    return paid


@pytest.fixture
def xihu_yearly(make_elder):
    seventy = make_elder(D(1950, 1, 1))  # 74 in 2024
    lost_child = make_elder(D(1958, 1, 1), categories=["lost_only_child"])
    return seventy, lost_child


def test_xihu_pays_its_2024_yearly_items_in_february_the_first_month_in_force(xihu_yearly):
    seventy, lost_child = xihu_yearly
    for month in range(1, 13):
        run(D(2024, month, 1))
    run(D(2025, 1, 1))
    run(D(2025, 2, 1))
    assert yearly_paid(seventy) == {
        D(2024, 2, 1): {SEVENTY: Decimal("100.00")},
        D(2025, 1, 1): {SEVENTY: Decimal("100.00")},
    }
    assert yearly_paid(lost_child) == {
        D(2024, 2, 1): {LOST_CHILD: Decimal("900.00")},
        D(2025, 1, 1): {LOST_CHILD: Decimal("900.00")},
    }


def test_january_2024_precedes_the_document_and_march_2024_is_not_due(xihu_yearly):
    january = run(D(2024, 1, 1))
    march = run(D(2024, 3, 1))
    assert yearly_paid(xihu_yearly[0]) == {}
    skipped = {s["scheme"] for s in january.report["skipped_schemes"]}
    assert {SEVENTY, LOST_CHILD} <= skipped  # no amount in force on 2024-01-01
    not_due = {s["scheme"]: s["payment_month"] for s in march.report["not_due_this_month"]}
    assert not_due[SEVENTY] == 1 and not_due[LOST_CHILD] == 1


def test_the_february_run_in_arrears_pays_the_yearly_item_too(make_elder):
    """An elder registered after February 2024's run is owed its yearly items as arrears."""
    run(D(2024, 2, 1))
    seventy = make_elder(D(1950, 1, 1))
    run(D(2024, 4, 1))
    assert yearly_paid(seventy) == {D(2024, 2, 1): {SEVENTY: Decimal("100.00")}}


def test_a_later_payment_month_pays_the_first_year_in_that_month(xihu_yearly, xihu):
    """With March as the payment month, an item in force from 2024-01-30 is in force on
    1 March: paid in March 2024 like every other year, not in February."""
    add_policy_value(
        region=xihu,
        key="yearly_allowance_payment_month",
        value=Decimal("3"),
        effective_from=D(2024, 1, 1),
        citation="测试：按年津贴在3月发放",
        reason="测试",
    )
    for month in (2, 3, 4):
        run(D(2024, month, 1))
    assert yearly_paid(xihu_yearly[0]) == {D(2024, 3, 1): {SEVENTY: Decimal("100.00")}}


def test_eligibility_is_read_on_the_1st_of_the_month_it_is_paid(make_elder):
    """Turning 70 on 2 February 2024 is too late for the 2024 payment (paid on 1 February)."""
    just_too_late = make_elder(D(1954, 2, 2))
    just_in_time = make_elder(D(1954, 2, 1))
    run(D(2024, 2, 1))
    assert yearly_paid(just_too_late) == {}
    assert yearly_paid(just_in_time) == {D(2024, 2, 1): {SEVENTY: Decimal("100.00")}}


def test_a_rate_change_during_the_year_is_no_second_payment(xihu_yearly, xihu):
    row = PolicyValue.objects.get(region=xihu, key="e_allowance_age_70_79")
    row.effective_to = D(2025, 5, 31)
    row.save()
    add_policy_value(
        region=xihu,
        key="e_allowance_age_70_79",
        value=Decimal("150"),
        effective_from=D(2025, 6, 1),
        citation=row.citation,
        reason="测试：年中调整",
    )
    for month in (1, 6, 7):
        run(D(2025, month, 1))
    assert yearly_paid(xihu_yearly[0]) == {D(2025, 1, 1): {SEVENTY: Decimal("100.00")}}


@pytest.mark.parametrize(
    ("in_force_from", "payment_month", "period", "due"),
    [
        (D(2024, 1, 30), 1, D(2024, 1, 1), False),  # not yet in force
        (D(2024, 1, 30), 1, D(2024, 2, 1), True),  # first month in force after January
        (D(2024, 1, 30), 1, D(2024, 3, 1), False),  # paid in February already
        (D(2024, 2, 1), 1, D(2024, 2, 1), True),  # in force on the 1st itself
        (D(2024, 2, 2), 1, D(2024, 2, 1), False),  # one day late for February
        (D(2024, 2, 2), 1, D(2024, 3, 1), True),
        (D(2024, 1, 30), 1, D(2025, 1, 1), True),  # every later year: the payment month
        (D(2024, 1, 30), 1, D(2025, 2, 1), False),
        (D(2024, 1, 30), 6, D(2024, 2, 1), False),  # before the payment month: wait for it
        (D(2024, 1, 30), 6, D(2024, 6, 1), True),
        (D(2024, 7, 15), 6, D(2024, 8, 1), True),
        (D(2024, 7, 15), 6, D(2025, 6, 1), True),
        (D(2024, 12, 2), 1, D(2024, 12, 1), False),  # not in force on 1 December 2024
        (D(2024, 12, 2), 1, D(2025, 1, 1), True),
    ],
)
def test_the_month_a_yearly_item_is_due(in_force_from, payment_month, period, due):
    assert yearly_item_due(period, payment_month, lambda on: on >= in_force_from) is due
