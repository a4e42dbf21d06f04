"""A rate corrected backwards: draft lines are recomputed, approved months get difference lines
(plus or minus) in the next adjustment batch citing the old and the new policy value, and
approved lines are never edited (docs/policy.md §0 Time, subsidies.run.corrections). The
revision records a correction job that Celery works once it commits: here in-process, as on
the embedded setup (tests/subsidies/test_correction_jobs.py: chunks, sweep and resume;
test_correction_worker_kills.py: a real worker killed)."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.db.models import Sum

from regions import services as rulebook
from regions.models import PolicyValue, Region
from subsidies.batches import approve_batch
from subsidies.choices import BatchKind, BatchState, LineKind, LineStatus, RunStatus
from subsidies.models import CorrectionJob, PaymentBatch, PaymentLine
from subsidies.run.correction_jobs import request_correction
from subsidies.run.planning import request_allowance_run

D = datetime.date
TODAY = D(2024, 6, 10)
LONGEVITY = "longevity_100_plus"


@pytest.fixture(autouse=True)
def corrections_in_process(tasks_in_process, django_capture_on_commit_callbacks):
    """Each revision's correction job worked once the revision commits, in this process."""

    def committed(service, **arguments):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**arguments)

    return committed


@pytest.fixture
def revise_policy_value(corrections_in_process):
    return lambda **arguments: corrections_in_process(rulebook.revise_policy_value, **arguments)


@pytest.fixture
def add_policy_value(corrections_in_process):
    return lambda **arguments: corrections_in_process(rulebook.add_policy_value, **arguments)


def job_of(revision) -> CorrectionJob:
    return CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])


@pytest.fixture
def finance(db):
    user = User.objects.create_user("finance-corrections")
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    return User.objects.get(pk=user.pk)


def run(period, region="330106"):
    return request_allowance_run(region=Region.objects.get(code=region), period=period, sync=True)


def lines(elder, period, **filters):
    return PaymentLine.objects.filter(elder=elder, period=period, **filters).order_by("pk")


def owed(elder, period) -> Decimal:
    """What the lines of a month pay the elder, every kind, cancelled ones left out."""
    total = (
        lines(elder, period)
        .exclude(status=LineStatus.CANCELLED)
        .exclude(kind=LineKind.REISSUE)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or Decimal("0")


@pytest.fixture
def xihu_run_to_may(make_elder, finance):
    """A Xihu centenarian paid 800 a month; February to April approved, May still a draft."""
    centenarian = make_elder(D(1920, 1, 1))
    for month in (2, 3, 4, 5):
        result = run(D(2024, month, 1))
        if month < 5:
            approve_batch(batch=result.batch, by=finance)
    return centenarian


def xihu_longevity():
    return PolicyValue.objects.get(
        region__code="330106", key="longevity_subsidy_100_plus", effective_to__isnull=True
    )


def adjustment():
    """This month's draft adjustment batch of Xihu (the next one finance approves)."""
    return PaymentBatch.objects.get(
        region__code="330106",
        period=TODAY.replace(day=1),
        kind=BatchKind.ADJUSTMENT,
        state=BatchState.DRAFT,
    )


def test_a_raise_from_march_pays_the_difference_for_approved_months(
    xihu_run_to_may, revise_policy_value
):
    elder = xihu_run_to_may
    old = xihu_longevity()
    approved_before = list(
        lines(elder, D(2024, 3, 1)).values_list("pk", "amount", "policy_value_id", "status")
    )

    revision = revise_policy_value(
        row=old, applies_from=D(2024, 3, 1), reason="提标", today=TODAY, value=Decimal("900")
    )

    new = revision.new
    job = job_of(revision)
    assert job.status == RunStatus.DONE and job.chunks_done == job.chunks_total == 3
    assert job.report["months"] == ["2024-03", "2024-04", "2024-05"]
    assert (job.report["corrections"], job.report["recomputed"]) == (2, 1)
    assert (job.policy_value_id, job.replaced_value_id) == (new.pk, old.pk)
    # February precedes the change: nothing.
    assert [x.amount for x in lines(elder, D(2024, 2, 1))] == [Decimal("800.00")]
    for month in (D(2024, 3, 1), D(2024, 4, 1)):
        original, correction = lines(elder, month)
        assert (original.kind, original.amount, original.policy_value_id) == (
            LineKind.NORMAL,
            Decimal("800.00"),
            old.pk,
        )
        assert correction.kind == LineKind.CORRECTION and correction.amount == Decimal("100.00")
        assert correction.corrects_id == original.pk and correction.batch == adjustment()
        assert correction.policy_value_id == new.pk
        cited = correction.inputs["correction"]
        assert cited["old"]["policy_value_id"] == old.pk and cited["old"]["value"] == "800"
        assert cited["new"]["policy_value_id"] == new.pk and cited["new"]["value"] == "900"
        assert owed(elder, month) == Decimal("900.00")
    # Approved lines are never edited.
    assert (
        list(
            lines(elder, D(2024, 3, 1))
            .filter(kind=LineKind.NORMAL)
            .values_list("pk", "amount", "policy_value_id", "status")
        )
        == approved_before
    )
    # May's batch is a draft: its line is recomputed in place, no difference line.
    (may,) = lines(elder, D(2024, 5, 1))
    assert (may.kind, may.amount, may.policy_value_id) == (
        LineKind.NORMAL,
        Decimal("900.00"),
        new.pk,
    )
    assert may.inputs["recomputed"]["old"]["policy_value_id"] == old.pk


def test_a_cut_after_approval_is_a_minus_line_and_nothing_is_paid_twice(
    xihu_run_to_may, finance, revise_policy_value, corrections_in_process
):
    elder = xihu_run_to_may
    raised = revise_policy_value(
        row=xihu_longevity(),
        applies_from=D(2024, 3, 1),
        reason="提标",
        today=TODAY,
        value=Decimal("900"),
    ).new
    # Corrected again before the adjustment batch is approved: its pending line is updated.
    revise_policy_value(
        row=raised, applies_from=D(2024, 4, 1), reason="更正", today=TODAY, value=Decimal("850")
    )
    assert [x.amount for x in lines(elder, D(2024, 4, 1))] == [
        Decimal("800.00"),
        Decimal("50.00"),
    ]
    assert owed(elder, D(2024, 3, 1)) == Decimal("900.00")
    approve_batch(batch=adjustment(), by=finance)

    cut = revise_policy_value(
        row=xihu_longevity(),
        applies_from=D(2024, 4, 1),
        reason="更正",
        today=TODAY,
        value=Decimal("700"),
    )
    minus = lines(elder, D(2024, 4, 1), kind=LineKind.CORRECTION).last()
    assert minus.amount == Decimal("-150.00") and minus.batch.state == BatchState.DRAFT
    assert minus.inputs["correction"]["paid_before"] == "850.00"
    assert minus.inputs["correction"]["new"]["policy_value_id"] == cut.new.pk
    assert owed(elder, D(2024, 4, 1)) == Decimal("700.00")
    assert owed(elder, D(2024, 3, 1)) == Decimal("900.00")
    assert lines(elder, D(2024, 5, 1)).get().amount == Decimal("700.00")

    # Recomputing once more finds nothing left to correct.
    before = PaymentLine.objects.count()
    again = corrections_in_process(
        request_correction, rows=[cut.new], start=D(2024, 3, 1), reason="再算", today=TODAY
    )
    report = CorrectionJob.objects.get(pk=again["correction_job"]).report
    assert [report[n] for n in ("corrections", "arrears", "recomputed", "cancelled")] == [0] * 4
    assert PaymentLine.objects.count() == before


def test_a_change_from_mid_month_first_counts_from_the_next_month(
    xihu_run_to_may, revise_policy_value
):
    elder = xihu_run_to_may
    revise_policy_value(
        row=xihu_longevity(),
        applies_from=D(2024, 4, 2),
        reason="提标",
        today=TODAY,
        value=Decimal("900"),
    )
    assert owed(elder, D(2024, 4, 1)) == Decimal("800.00")  # the run reads the 1st
    assert owed(elder, D(2024, 5, 1)) == Decimal("900.00")
    assert not lines(elder, D(2024, 4, 1), kind=LineKind.CORRECTION).exists()


def test_months_not_run_and_other_regions_are_left_alone(
    xihu_run_to_may, make_elder, revise_policy_value
):
    anji = make_elder(D(1920, 1, 1), "330523")
    run(D(2024, 3, 1), "330523")
    revise_policy_value(
        row=xihu_longevity(),
        applies_from=D(2024, 3, 1),
        reason="提标",
        today=TODAY,
        value=Decimal("900"),
    )
    assert [x.amount for x in lines(anji, D(2024, 3, 1))] == [Decimal("550.00")]
    assert not PaymentLine.objects.filter(elder=xihu_run_to_may, period=D(2024, 6, 1)).exists()


def test_an_amount_set_backwards_where_none_was_pays_the_months_already_run(
    make_elder, finance, add_policy_value
):
    """Ningbo's 100+ amount is in documents outside the five: entered later from 2024-01-01, the
    approved months pay it (as arrears) and whatever was paid instead is taken back."""
    centenarian = make_elder(D(1920, 1, 1), "330203")
    approve_batch(batch=run(D(2024, 3, 1), "330200").batch, by=finance)

    add_policy_value(
        region=Region.objects.get(code="330200"),
        key="longevity_subsidy_100_plus",
        value=Decimal("500"),
        effective_from=D(2024, 1, 1),
        citation="甬民发〔2023〕21号（测试）",
        reason="录入宁波百岁老人长寿保健补助金",
    )
    longevity = lines(centenarian, D(2024, 3, 1), scheme__code=LONGEVITY).get()
    assert longevity.kind == LineKind.ARREARS and longevity.amount == Decimal("500.00")
    assert longevity.batch.kind == BatchKind.ADJUSTMENT and longevity.batch.is_draft
    assert owed(centenarian, D(2024, 3, 1)) == Decimal("500.00")
    assert longevity.inputs["correction"]["old"] == {"policy_value_id": None}
