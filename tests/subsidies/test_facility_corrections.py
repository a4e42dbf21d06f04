"""Facility grants (operating subsidies, premium subsidies) under a value revised backwards: the
correction job reads every grant whose rules read the revised value again, grant by grant — a
draft line (and the grant's record) recomputed in place, an approved one given a difference
line in the next adjustment batch citing the old and the new value — in chunks that can be
written twice without doubling anything."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from regions import services as rules
from regions.models import PolicyValue, Region
from subsidies.batches import approve_batch, regular_batch
from subsidies.choices import BatchKind, BatchState, LineKind, LineStatus, Payee, RunStatus
from subsidies.models import CorrectionChunk, CorrectionJob, PaymentLine
from subsidies.run import correction_jobs
from subsidies.run.corrections import correct_chunk
from tests.factories import FacilityFactory
from tests.subsidies.test_worker_recovery import _staff

pytestmark = pytest.mark.django_db
D = datetime.date
JAN_2025, FEB_2025 = D(2025, 1, 1), D(2025, 2, 1)


def region(code):
    return Region.objects.get(code=code)


def grant(facility, period, **kwargs):
    from subsidies.grants import grant_facility_subsidy

    return grant_facility_subsidy(
        facility=facility, kind="operating", year=2024, period=period, **kwargs
    )


def coefficient() -> PolicyValue:
    return PolicyValue.objects.get(
        region__code="330105", key="operating_subsidy_transfer_coefficient", effective_to=None
    )


def revise(value: str, captured):
    with captured(execute=True):
        return rules.revise_policy_value(
            row=coefficient(),
            applies_from=D(2024, 1, 1),
            reason="系数更正",
            value=Decimal(value),
        )


def facility_lines() -> Counter:
    return Counter(
        PaymentLine.objects.filter(facility__isnull=False).values_list(
            "facility_id", "period", "amount", "kind", "status", "batch__kind", "batch__state"
        )
    )


@pytest.fixture
def finance(db):
    return _staff("finance-facilities", "finance", "330105")


@pytest.fixture
def granted(rulebook, finance):
    """Gongshu (coefficient 0.8 from 2022-12-06): centre A granted the limit (80,000) and
    centre B 70,000 asked, both in January 2025's batch, approved; station C granted its limit
    (12,000) in February's, a draft."""
    rules.set_policy_value(
        region=region("330105"),
        key="operating_subsidy_transfer_coefficient",
        effective_from=D(2022, 12, 6),
        value=Decimal("0.8"),
        citation="省对县转移支付系数（测试）",
    )
    a = FacilityFactory(kind="street_centre", region=region("330105"))
    b = FacilityFactory(kind="street_centre", region=region("330105"))
    c = FacilityFactory(kind="community_station", region=region("330105"))
    grants = {
        "a": grant(a, JAN_2025),
        "b": grant(b, JAN_2025, amount=Decimal("70000")),
    }
    approve_batch(batch=regular_batch(region("330105"), JAN_2025), by=finance)
    grants["c"] = grant(c, FEB_2025)
    assert [g.amount for g in grants.values()] == [
        Decimal("80000.00"),
        Decimal("70000.00"),
        Decimal("12000.00"),
    ]
    return grants


def test_a_coefficient_raised_backwards_pays_approved_grants_the_difference(
    granted, tasks_in_process, django_capture_on_commit_callbacks
):
    revision = revise("0.9", django_capture_on_commit_callbacks)
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    assert job.status == RunStatus.DONE and Payee.FACILITY in job.report["payees"]
    assert job.report["facility_months"] == ["2025-01", "2025-02"]

    a, b, c = granted["a"], granted["b"], granted["c"]
    # A: granted the limit, approved: +10,000 in this month's adjustment batch of Gongshu.
    difference = PaymentLine.objects.get(facility=a.facility, kind=LineKind.CORRECTION)
    assert difference.amount == Decimal("10000.00") and difference.corrects == a.line
    assert difference.batch.kind == BatchKind.ADJUSTMENT and difference.batch.is_draft
    assert difference.batch.period == timezone.localdate().replace(day=1)
    assert difference.batch.region.code == "330105"
    cited = difference.inputs["correction"]
    assert (cited["old"]["value"], cited["new"]["value"]) == ("0.8", "0.9")
    assert (cited["paid_before"], cited["owed_now"]) == ("80000.00", "90000.00")
    assert difference.inputs["facility_subsidy"] == a.pk
    a.refresh_from_db()
    assert a.amount == Decimal("80000.00")  # the approved grant's record is not edited
    # B asked 70,000, still within the limit: nothing owed.
    assert not PaymentLine.objects.filter(facility=b.facility, kind=LineKind.CORRECTION).exists()
    # C's line is a draft: recomputed in place, with the grant's record.
    c.refresh_from_db()
    c.line.refresh_from_db()
    assert c.amount == c.line.amount == Decimal("13500.00") and c.cap == Decimal("13500.00")
    assert c.line.inputs["recomputed"]["new"]["value"] == "0.9"
    assert c.line.kind == LineKind.NORMAL and c.line.batch.is_draft


def test_lowered_again_the_pending_difference_is_updated_and_a_request_is_cut(
    granted, tasks_in_process, django_capture_on_commit_callbacks
):
    revise("0.9", django_capture_on_commit_callbacks)
    revise("0.5", django_capture_on_commit_callbacks)
    a, b, c = granted["a"], granted["b"], granted["c"]
    differences = {
        line.facility_id: line.amount
        for line in PaymentLine.objects.filter(kind=LineKind.CORRECTION, status=LineStatus.PENDING)
    }
    # One pending difference per line and batch: A's +10,000 became -30,000; B's request above
    # the new limit of 50,000 is cut to it.
    assert differences == {
        a.facility_id: Decimal("-30000.00"),
        b.facility_id: Decimal("-20000.00"),
    }
    c.refresh_from_db()
    assert c.amount == Decimal("7500.00")


def test_the_facility_chunks_written_twice_double_nothing(
    granted, tasks_in_process, django_capture_on_commit_callbacks
):
    revision = revise("0.9", django_capture_on_commit_callbacks)
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    after = facility_lines()
    chunks = CorrectionChunk.objects.filter(job=job, payee=Payee.FACILITY)
    assert sorted(chunk.period for chunk in chunks) == [JAN_2025, FEB_2025]
    for chunk in chunks:
        assert correct_chunk(job, chunk) == dict.fromkeys(chunk.counts, 0)
        correction_jobs.process_chunk(chunk_id=chunk.pk)  # done: skipped
    assert facility_lines() == after


def test_a_grant_the_revised_value_never_decided_is_left_alone(
    granted, tasks_in_process, django_capture_on_commit_callbacks, finance
):
    """Hangzhou's community stations are bounded by the station cap, not the street centres':
    a change to the centres' cap reads the stations again and changes nothing of theirs."""
    row = PolicyValue.objects.get(
        region__code="330000", key="operating_subsidy_street_centre_cap", effective_to=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        revision = rules.revise_policy_value(
            row=row, applies_from=D(2024, 7, 1), reason="提标", value=Decimal("110000")
        )
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    assert job.status == RunStatus.DONE
    a, c = granted["a"], granted["c"]
    difference = PaymentLine.objects.get(kind=LineKind.CORRECTION)
    assert difference.facility_id == a.facility_id and difference.amount == Decimal("8000.00")
    cited = difference.inputs["correction"]
    assert (cited["old"]["value"], cited["new"]["value"]) == ("100000", "110000")
    c.refresh_from_db()
    assert c.amount == Decimal("12000.00") and "recomputed" not in c.line.inputs
    # The approved batch stays approved; the difference waits in a draft for finance.
    assert regular_batch(region("330105"), JAN_2025).state == BatchState.APPROVED
