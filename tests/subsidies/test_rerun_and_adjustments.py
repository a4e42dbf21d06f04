"""Reruns add only what is missing; approved batches are never edited; arrears and recoveries."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError

from residents import services as residents_services
from subsidies.batches import approve_batch
from subsidies.choices import BatchKind, BatchState, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine
from tests.subsidies.test_allowance_amounts import run

APRIL = datetime.date(2024, 4, 1)
MAY = datetime.date(2024, 5, 1)


@pytest.fixture
def finance(db):
    user = User.objects.create_user("finance-test")
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    return User.objects.get(pk=user.pk)


def snapshot():
    return sorted(
        PaymentLine.objects.values_list("scheme_id", "period", "elder_id", "amount", "kind")
    )


def test_a_rerun_adds_nothing_when_nothing_changed(make_elder):
    for born in (datetime.date(1939, 1, 1), datetime.date(1929, 1, 1), datetime.date(1920, 1, 1)):
        make_elder(born, pension="resident")
    first = run("330106", MAY)
    before = snapshot()
    second = run("330106", MAY)
    assert snapshot() == before and len(before) == 6
    assert first.batch_id == second.batch_id
    assert PaymentBatch.objects.count() == 1


def test_a_rerun_adds_only_the_elder_registered_since(make_elder):
    make_elder(datetime.date(1939, 1, 1))
    run("330106", MAY)
    late = make_elder(datetime.date(1929, 1, 1))
    run("330106", MAY)
    assert PaymentLine.objects.count() == 2
    assert PaymentLine.objects.get(elder=late).batch.kind == BatchKind.REGULAR


def test_only_finance_approves(make_elder, finance):
    make_elder(datetime.date(1939, 1, 1))
    batch = run("330106", MAY).batch
    clerk = User.objects.create_user("clerk")
    with pytest.raises(ValidationError) as error:
        approve_batch(batch=batch, by=clerk)
    assert "approved_by" in error.value.message_dict
    approve_batch(batch=batch, by=finance)
    batch.refresh_from_db()
    assert batch.state == BatchState.APPROVED and batch.approved_by == finance


def test_a_rerun_never_touches_an_approved_batch_new_lines_go_to_an_adjustment_batch(
    make_elder, finance
):
    make_elder(datetime.date(1939, 1, 1))
    batch = run("330106", MAY).batch
    approve_batch(batch=batch, by=finance)
    before = list(batch.lines.values_list("id", "amount", "status"))
    run("330106", MAY)  # nothing new: no adjustment batch is opened
    assert not PaymentBatch.objects.filter(kind=BatchKind.ADJUSTMENT).exists()
    late = make_elder(datetime.date(1929, 1, 1))
    run("330106", MAY)
    assert list(batch.lines.values_list("id", "amount", "status")) == before
    line = PaymentLine.objects.get(elder=late)
    assert line.batch.kind == BatchKind.ADJUSTMENT and line.batch.state == BatchState.DRAFT
    assert line.kind == LineKind.ARREARS and line.period == MAY


def test_an_elder_registered_late_is_paid_the_missed_months_in_an_adjustment_batch(make_elder):
    make_elder(datetime.date(1939, 1, 1))
    run("330106", datetime.date(2024, 3, 1))
    run("330106", APRIL)
    late = make_elder(datetime.date(1929, 1, 1))
    result = run("330106", MAY)
    lines = PaymentLine.objects.filter(elder=late).order_by("period")
    assert [(line.period, line.kind, line.amount) for line in lines] == [
        (datetime.date(2024, 3, 1), LineKind.ARREARS, Decimal("100.00")),
        (APRIL, LineKind.ARREARS, Decimal("100.00")),
        (MAY, LineKind.NORMAL, Decimal("100.00")),
    ]
    adjustment = PaymentBatch.objects.get(kind=BatchKind.ADJUSTMENT)
    assert adjustment.period == MAY
    assert result.report["adjustment_batch"]["lines"] == 2
    run("330106", MAY)  # a rerun adds no second arrears line
    assert PaymentLine.objects.filter(elder=late).count() == 3


def test_arrears_go_back_no_further_than_the_rulebook_setting(make_elder):
    make_elder(datetime.date(1939, 1, 1))
    months = [datetime.date(2023, m, 1) for m in range(1, 13)] + [
        datetime.date(2024, m, 1) for m in range(1, 5)
    ]
    for month in months:
        run("330106", month)
    late = make_elder(datetime.date(1929, 1, 1))
    run("330106", MAY)
    arrears = PaymentLine.objects.filter(elder=late, kind=LineKind.ARREARS)
    assert arrears.count() == 12  # allowance_arrears_months = 12 (系统设置)
    assert min(arrears.values_list("period", flat=True)) == datetime.date(2023, 5, 1)


def test_a_death_recorded_after_approval_creates_recovery_lines(make_elder, finance):
    elder = make_elder(datetime.date(1939, 1, 1))
    for month in (APRIL, MAY):
        approve_batch(batch=run("330106", month).batch, by=finance)
    residents_services.record_death(elder=elder, death_date=datetime.date(2024, 4, 10))
    recovery = PaymentLine.objects.get(kind=LineKind.RECOVERY)
    assert recovery.period == MAY and recovery.amount == Decimal("-60.00")
    assert recovery.corrects.period == MAY
    assert recovery.batch.kind == BatchKind.ADJUSTMENT and recovery.batch.is_draft
    # the approved lines are as they were
    assert set(
        PaymentLine.objects.filter(kind=LineKind.NORMAL).values_list("status", flat=True)
    ) == {LineStatus.PENDING}


def test_a_death_recorded_before_approval_cancels_the_draft_line(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1))
    run("330106", MAY)
    residents_services.record_death(elder=elder, death_date=datetime.date(2024, 4, 10))
    line = PaymentLine.objects.get(elder=elder)
    assert line.status == LineStatus.CANCELLED
    assert not PaymentLine.objects.filter(kind=LineKind.RECOVERY).exists()


def test_the_unique_constraint_refuses_a_second_payment_for_the_same_scheme_month_person(
    make_elder,
):
    from django.db import IntegrityError, transaction

    make_elder(datetime.date(1939, 1, 1))
    line = run("330106", MAY).batch.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.create(
            batch=line.batch,
            scheme=line.scheme,
            period=line.period,
            elder=line.elder,
            amount=line.amount,
            kind=LineKind.ARREARS,
        )
