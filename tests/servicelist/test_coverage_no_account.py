"""A cash item's line held because the elder has no account reached nobody: the elder is in
the not-reached list with the reason "no account" (in both languages), and is reached once the
account is added and the held line is paid again (docs/policy.md §7, §1 payment channels)."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone, translation

from regions.models import Region
from servicelist.coverage import coverage, elder_items
from subsidies.choices import BatchState, LineKind, LineStatus
from subsidies.models import PaymentBatch
from subsidies.payees import set_payee_account
from tests.servicelist.test_coverage import make_elder, pay
from tests.subsidies.conftest import card_number_for

D = datetime.date
JUNE = D(2024, 6, 1), D(2024, 6, 30)


@pytest.fixture
def schemes(service_items):
    from subsidies.models import Scheme
    from subsidies.schemes import load_schemes

    load_schemes()
    return {s.code: s for s in Scheme.objects.all()}


def high_age_row():
    rows = coverage(Region.objects.get(code="330106"), *JUNE, named=True)
    (row,) = [r for r in rows if "high_age_80_89" in r.item.schemes]
    return row


@pytest.fixture
def held(schemes):
    """An 80-year-old paid, one whose line is held for want of an account, one never paid."""
    paid = make_elder(D(1940, 3, 1), name="已领")
    waiting = make_elder(D(1940, 4, 1), name="无账户", account=False)
    never = make_elder(D(1940, 5, 1), name="未发", residence=None)
    eighty = schemes["high_age_80_89"]
    pay(paid, eighty, JUNE[0])
    line = pay(waiting, eighty, JUNE[0], status=LineStatus.HELD)
    return {"paid": paid, "waiting": waiting, "never": never, "line": line}


def test_a_held_line_is_not_reached_and_says_no_account(held, coverage_reading):
    row = high_age_row()
    reasons = {n.name: n.reason for n in row.not_reached}
    assert reasons["无账户"] == "无领取账户"
    assert reasons["未发"] == "本期无发放记录；常住地未登记"
    assert "已领" not in reasons
    assert row.reached == row.entitled - 2


def test_the_reason_is_translated(held):
    with translation.override("en"):
        reasons = {n.name: n.reason for n in high_age_row().not_reached}
    assert reasons["无账户"] == "no account"


def test_the_elder_is_reached_once_the_account_is_added(held, coverage_reading):
    waiting, line = held["waiting"], held["line"]
    # The batch was approved before the account came: the held line is paid again as a
    # reissue in the month's draft batch, for the same month.
    root = User.objects.create_superuser("root-no-account", "", "x")
    PaymentBatch.objects.filter(pk=line.batch_id).update(
        state=BatchState.APPROVED, approved_by=root, approved_at=timezone.now()
    )
    set_payee_account(
        payee=waiting, channel="bank_card", bank="工商银行", account_number=card_number_for(91)
    )
    line.refresh_from_db()
    assert line.status == LineStatus.HELD
    assert line.corrections.get().kind == LineKind.REISSUE
    row = high_age_row()
    assert "无账户" not in {n.name for n in row.not_reached}


def test_an_elders_page_shows_the_held_item_as_missing(held):
    items = elder_items(held["waiting"], *JUNE)
    (item,) = [i for i in items if "high_age_80_89" in i.item.schemes]
    assert item.entitled and item.received is False and item.missing


def test_a_pending_line_with_no_account_counts_as_held_not_as_reached_or_paid(
    schemes, coverage_reading
):
    # A draft batch's line to an elder with no account: approval and export will hold it, and
    # the batch totals already count it as held (subsidies.selectors.payable_and_held). The
    # coverage and the statistics read it the same way; once the account is added it is paid.
    from servicelist.statistics import paid_by_scheme

    elder = make_elder(D(1940, 4, 1), name="待补账户", account=False)
    eighty = schemes["high_age_80_89"]
    line = pay(elder, eighty, JUNE[0])
    assert line.status == LineStatus.PENDING
    xihu = Region.objects.get(code="330106")
    assert {n.name: n.reason for n in high_age_row().not_reached}["待补账户"] == "无领取账户"
    assert paid_by_scheme(xihu, *JUNE, {"high_age_80_89"}) == {}
    set_payee_account(
        payee=elder, channel="bank_card", bank="工商银行", account_number=card_number_for(92)
    )
    assert "待补账户" not in {n.name for n in high_age_row().not_reached}
    assert paid_by_scheme(xihu, *JUNE, {"high_age_80_89"}) == {"high_age_80_89": 60}
