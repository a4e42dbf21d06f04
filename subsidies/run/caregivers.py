"""The caregiver schemes' lines, written when the run is planned (caregivers are few)."""

from __future__ import annotations

from django.db.models import Q

from regions.models import Region
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import BatchState, LineKind
from subsidies.models import AllowanceRun, PaymentLine
from subsidies.run.lines import OwedLine
from subsidies.run.plan import PeriodPlan


def owed_caregiver_lines(
    region: Region, plan: PeriodPlan
) -> tuple[dict[tuple[int, int], OwedLine], dict[int, str]]:
    """The caregiver schemes' lines of the month (docs/policy.md §1 — 003 安吉县实施意见 §15:
    养老护理员特殊岗位津贴, not less than 400 a month to each certified caregiver): every
    caregiver who, on the 1st of the month, holds a valid skill certificate and is employed at
    an active facility in ``region``, paid once (the nearest rate region of their first
    employment decides). Returns ({(caregiver, scheme): the line}, {caregiver: the path of the
    region of that employment's facility}). Caregivers are few next to elders: one query for
    employments, one for certificates."""
    from facilities.choices import CertificateKind
    from facilities.models import Certificate, Employment

    on = plan.period
    certified = (
        Certificate.objects.filter(kind=CertificateKind.CAREGIVER_SKILL, issued_on__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("caregiver_id", "-issued_on")
        .values_list("caregiver_id", "grade", "number")
    )
    certificates: dict[int, tuple[str, str]] = {}
    for caregiver_id, grade, number in certified:
        certificates.setdefault(caregiver_id, (grade, number))
    employments = (
        Employment.objects.filter(
            start_date__lte=on,
            caregiver_id__in=list(certificates),
            facility__is_active=True,
            facility__region__path__startswith=region.path,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .order_by("caregiver_id", "start_date", "id")
        .values_list("caregiver_id", "facility__code", "facility__region__path", "start_date")
    )
    owed: dict[tuple[int, int], OwedLine] = {}
    paths: dict[int, str] = {}
    for caregiver_id, facility_code, path, start in employments:
        if caregiver_id in paths:
            continue
        paths[caregiver_id] = path
        node = plan.node_for(path)
        grade, number = certificates[caregiver_id]
        for planned in node.caregiver_schemes if node is not None else ():
            owed[(caregiver_id, planned.scheme_id)] = OwedLine(
                amount=planned.amount,
                policy_value_id=planned.policy_value_id,
                inputs={
                    **planned.line_inputs(node.region),
                    "rule": "certified caregiver (skill certificate valid on the 1st) "
                    "employed on the 1st at a facility of the jurisdiction",
                    "on": on.isoformat(),
                    "facility": facility_code,
                    "employed_since": start.isoformat(),
                    "certificate_grade": grade,
                    "certificate_number": number,
                },
            )
    return owed, paths


def caregiver_lines(run: AllowanceRun, plan: PeriodPlan) -> list[PaymentLine]:
    """The run's lines of the caregiver schemes (``owed_caregiver_lines`` in the run's region):
    in the regular batch while it is a draft; once it is approved, those still missing (one
    query for what is already paid) as arrears in the draft adjustment batch."""
    owed, _paths = owed_caregiver_lines(run.region, plan)
    regular_is_draft = run.batch.state == BatchState.DRAFT
    lines = [
        PaymentLine(
            batch_id=run.batch_id,
            scheme_id=scheme_id,
            period=plan.period,
            caregiver_id=caregiver_id,
            amount=line.amount,
            kind=LineKind.NORMAL if regular_is_draft else LineKind.ARREARS,
            policy_value_id=line.policy_value_id,
            inputs=line.inputs,
        )
        for (caregiver_id, scheme_id), line in owed.items()
    ]
    if not regular_is_draft and lines:
        paid = set(
            PaymentLine.objects.filter(
                period=plan.period,
                caregiver_id__in={line.caregiver_id for line in lines},
                kind__in=[LineKind.NORMAL, LineKind.ARREARS],
            ).values_list("scheme_id", "caregiver_id")
        )
        lines = [line for line in lines if (line.scheme_id, line.caregiver_id) not in paid]
        if lines:
            adjustment = draft_adjustment_batch(run.region_id, plan.period)
            for line in lines:
                line.batch_id = adjustment.pk
    return lines
