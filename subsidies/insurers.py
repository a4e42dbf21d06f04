"""Premiums the government buys for elders, paid to the insurer (docs/policy.md §1).

An accident-insurance item of the lists (001 清单13, 003 清单8, 004 清单6) is a scheme whose
lines are paid to an insurer (``Scheme.paid_to``): one line per insured elder, whose ``elder``
is the insured and whose ``insurer`` is paid. Per elder, because that is what finance checks and
what every guarantee of the run already holds for: one premium per (scheme, year, elder), a rerun
adds only an elder registered since, each line says why its amount, a death or a correction
touches that elder's line only, and the insured list the insurer enrols is exactly the lines
paid (the export below), never a second list that could drift from them. The bank is paid once
per insurer: the list's total is the transfer, and the bank's return names the insurer's credit
code (``id_number``), which reconciles all its lines of the batch at once.

Which insurer: the cover (``InsuranceCover``, the contract a bureau signed) of the scheme in
force on the 1st of the month for the nearest region at or above the elder's registration. A
scheme with an amount but no cover there pays nobody and the run's report says why, as for an
amount not set.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.dates import refuse_before
from accounts.scoping import require_in_scope
from facilities.validators import normalize_uscc
from regions.models import Region
from subsidies.choices import PaidTo
from subsidies.models import InsuranceCover, Insurer, Scheme

# --- writes ------------------------------------------------------------------------------------


@transaction.atomic
def register_insurer(*, insurer: Insurer, by=None) -> Insurer:
    """Record an insurer, or a change to one (its name, code, region, whether in use): the
    credit code validated (GB 32100-2015), the writer's scope checked as stored and as it
    will be saved, the history kept."""
    insurer.uscc = normalize_uscc(insurer.uscc)
    require_in_scope(by, insurer, field="region")
    insurer.full_clean()
    _with_history_user(insurer, by).save()
    return insurer


@transaction.atomic
def set_insurance_cover(*, cover: InsuranceCover, by=None) -> InsuranceCover:
    """Record which insurer covers a scheme's elders in a region from a date (to a date), or
    a change to it: a scheme paid to an insurer, a region within the scheme's jurisdiction,
    an insurer in use, the dates in order and not overlapping another cover of the scheme
    and region; the writer's scope checked, the history kept."""
    require_in_scope(by, cover, field="region")
    check_insurance_cover(cover)
    cover.full_clean()
    _with_history_user(cover, by).save()
    return cover


def check_insurance_cover(cover: InsuranceCover) -> None:
    """The rules of a cover, each refusal naming its field."""
    scheme, region, insurer = cover.scheme, cover.region, cover.insurer
    if scheme is not None and scheme.paid_to != PaidTo.INSURER:
        raise ValidationError({"scheme": _("该项目不付给保险公司，无需承保安排。")})
    if (
        scheme is not None
        and region is not None
        and not region.path.startswith(scheme.jurisdiction.path)
    ):
        raise ValidationError(
            {
                "region": _("%(region)s不在该项目的适用区划%(jurisdiction)s内。")
                % {"region": region.name, "jurisdiction": scheme.jurisdiction.name}
            }
        )
    if insurer is not None and not insurer.is_active:
        raise ValidationError({"insurer": _("该保险公司已停用。")})
    refuse_before(
        cover.end_date,
        cover.start_date,
        field="end_date",
        label=_("终止日期"),
        earliest_label=_("起保日期"),
    )
    if cover.start_date is None or scheme is None or region is None:
        return
    others = InsuranceCover.objects.filter(scheme=scheme, region=region).exclude(pk=cover.pk)
    end = cover.end_date or datetime.date.max
    clash = (
        others.filter(start_date__lte=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=cover.start_date))
        .select_related("insurer")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "start_date": _(
                    "与%(insurer)s自 %(start)s 起的承保安排重叠：同一项目、同一区划同一时间只能由一家"
                    "保险公司承保。"
                )
                % {"insurer": clash.insurer.name, "start": clash.start_date}
            }
        )


def _with_history_user(record, by):
    record._history_user = by if by is not None and by.is_authenticated else None
    return record


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverInForce:
    """The cover that decides who is paid a scheme's premiums for elders registered in a
    region on a day."""

    cover_id: int
    insurer_id: int
    insurer: str  # its name, for the line's inputs
    region: str  # code of the region the cover is for


def cover_regions(schemes: list[Scheme], within: Region) -> list[int]:
    """The regions inside ``within`` that have a cover of one of ``schemes`` (rate regions of
    their own: an elder is paid to the nearest cover's insurer)."""
    ids = [s.pk for s in schemes if s.paid_to == PaidTo.INSURER]
    if not ids:
        return []
    return list(
        InsuranceCover.objects.filter(scheme_id__in=ids, region__path__startswith=within.path)
        .values_list("region_id", flat=True)
        .distinct()
    )


class CoverBook:
    """The covers of some schemes in force between two days, read once, answered per region
    and day: the cover of the nearest region at or above it in force that day."""

    def __init__(self, schemes: list[Scheme], first: datetime.date, last: datetime.date):
        ids = [s.pk for s in schemes if s.paid_to == PaidTo.INSURER]
        self.covers: dict[int, list[tuple[str, datetime.date, datetime.date, CoverInForce]]] = {}
        if not ids:
            return
        rows = (
            InsuranceCover.objects.filter(scheme_id__in=ids, start_date__lte=last)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
            .values_list(
                "pk",
                "scheme_id",
                "region__path",
                "region__code",
                "insurer_id",
                "insurer__name",
                "start_date",
                "end_date",
            )
        )
        for pk, scheme_id, path, code, insurer_id, name, start, end in rows:
            self.covers.setdefault(scheme_id, []).append(
                (path, start, end or datetime.date.max, CoverInForce(pk, insurer_id, name, code))
            )
        for found in self.covers.values():
            found.sort(key=lambda item: -len(item[0]))  # deepest first

    def cover_for(self, scheme_id: int, region: Region, on: datetime.date) -> CoverInForce | None:
        """The cover of the nearest region with one in force on ``on`` (a region whose own
        cover has ended is covered by the one above it, if any)."""
        return next(
            (
                cover
                for path, start, end, cover in self.covers.get(scheme_id, [])
                if region.path.startswith(path) and start <= on <= end
            ),
            None,
        )


def no_cover_reason() -> str:
    return _("该地该期没有承保该项目的保险公司（承保安排），保费不发放。")
