"""Coverage of the service list and "the policy finds the person" (政策找人): per item in force
in an area and period, how many elders the item is for, how many it reached, and who it has
not reached, with the reason when one is known (docs/policy.md §7 — 000 三(二)).

Set-based, whatever the number of elders, in one of two readings that give the same figures:
an area of at most SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS elders (a street, most
districts) is read once into memory, with the records that reached its elders, and every
item's condition evaluated there (servicelist.area_reading: a few queries for the whole
list); a larger one (a city, the province) is counted in SQL, per item one count of the
entitled, one of the reached and, when asked, one query for the named list. An elder belongs
to the area where
they live, or, with no residence recorded, where they are registered (as the street office's
scope reaches them, accounts/rules.py). Entitlement is read on the period's first day (or the
item's first day, when it comes into force later in the period), among elders alive then.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.utils.translation import gettext as _

from regions import conditions
from regions.models import Region
from regions.selectors import resolve_policy
from residents.models import AbilityAssessment, Elder
from servicelist.choices import ReachedThrough
from servicelist.item_selectors import not_reached_reason, reached_by_record
from servicelist.models import ServiceDelivery, ServiceItem
from servicelist.selectors import items_in_force, lineage

RATE_PLACES = Decimal("0.0001")


class PeriodError(ValueError):
    pass


def parse_period(text: str) -> tuple[datetime.date, datetime.date]:
    """``YYYY-MM`` (a month) or ``YYYY`` (a year) as its first and last day."""
    text = (text or "").strip()
    try:
        if len(text) == 4 and text.isdigit():
            year = int(text)
            return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        start = datetime.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise PeriodError(
            _("期间“%(text)s”应为 YYYY-MM（月）或 YYYY（年）。") % {"text": text}
        ) from None
    following = (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return start, following - datetime.timedelta(days=1)


def area_ids(region: Region) -> list[int]:
    """The ids of ``region`` and every region below it (one query, kept on the instance until
    the next coverage of it reads them again): an elder's area is then a match on their own
    region columns, which their indexes answer, rather than a join on every elder's region
    path (a street's count read every elder of the registry that way)."""
    ids = getattr(region, "_area_ids", None)
    if ids is None:
        ids = list(
            Region.objects.filter(path__startswith=region.path)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        region._area_ids = ids
    return ids


def lives_in(region: Region, prefix: str = "") -> Q:
    """Elders who live in the area: by residence, else by household registration."""
    ids = area_ids(region)
    return Q(**{f"{prefix}residence_region_id__in": ids}) | Q(
        **{f"{prefix}residence_region__isnull": True, f"{prefix}hukou_region_id__in": ids}
    )


def alive_on(day: datetime.date) -> Q:
    return Q(death_date__isnull=True) | Q(death_date__gte=day)


def evaluation_day(item: ServiceItem, start: datetime.date) -> datetime.date:
    return max(start, item.effective_from)


def _bounds(
    start: datetime.date, end: datetime.date
) -> tuple[datetime.datetime, datetime.datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    first = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, zone)
    return first, after


def cash_lines(schemes, start: datetime.date, end: datetime.date) -> QuerySet:
    """The payment lines that pay one of ``schemes`` (a cash item's scheme codes) to an elder
    for a month of [start, end]: normal, arrears, and reissues (a line paid again after a
    bank's refusal or once a held line's account is added), whatever their status."""
    from subsidies.choices import LineKind
    from subsidies.models import PaymentLine

    return PaymentLine.objects.filter(
        scheme__code__in=sorted(schemes),
        period__gte=start,
        period__lte=end,
        kind__in=[LineKind.NORMAL, LineKind.ARREARS, LineKind.REISSUE],
        elder__isnull=False,
    )


def reached_elders(
    item: ServiceItem,
    start: datetime.date,
    end: datetime.date,
    *,
    codes: set[str] | None = None,
) -> QuerySet | None:
    """The ids of the elders ``item`` reached in [start, end], as a subquery; None when no
    system of ours records it. Cash: a line paying one of its schemes for a month of the
    period that is neither failed, cancelled, nor held for want of an account (money that did
    not go out reached nobody); visits and checks: one in the period; in kind: a delivery of
    the item, or of an item above it that it restates (``codes``: its lineage, when the caller
    has read it already)."""
    from subsidies.selectors import unpaid_q
    from visits.models import HealthCheck, Visit

    how = item.reached_through
    if how == ReachedThrough.DELIVERY and codes is None:
        codes = lineage(item)
    if how == ReachedThrough.PAYMENT_LINE:
        rows = cash_lines(item.schemes, start, end).exclude(unpaid_q())
    elif how == ReachedThrough.VISIT:
        first, after = _bounds(start, end)
        rows = Visit.objects.filter(visited_at__gte=first, visited_at__lt=after)
    elif how == ReachedThrough.ABILITY_ASSESSMENT:
        rows = AbilityAssessment.objects.filter(assessed_on__gte=start, assessed_on__lte=end)
    elif how == ReachedThrough.HEALTH_CHECK:
        rows = HealthCheck.objects.filter(checked_on__gte=start, checked_on__lte=end)
    elif how == ReachedThrough.DELIVERY and item.record_kind:
        return reached_by_record(item, codes, start, end)
    elif how == ReachedThrough.DELIVERY:
        rows = ServiceDelivery.objects.filter(
            item__code__in=sorted(codes), delivered_on__gte=start, delivered_on__lte=end
        )
    else:
        return None
    return rows.values("elder_id")


def held_for_want_of_account(item: ServiceItem, start: datetime.date, end: datetime.date):
    """A filter over Elder: a line paying a cash ``item`` for a month of [start, end] is held
    because the elder has no account to pay it to, or would be at approval or export (a
    pending line, never exported, to an elder with no account; subsidies.selectors). False for
    other items."""
    from subsidies.selectors import held_q

    if item.reached_through != ReachedThrough.PAYMENT_LINE:
        return Value(False)
    return Exists(cash_lines(item.schemes, start, end).filter(held_q(), elder=OuterRef("pk")))


@dataclass(frozen=True)
class NotReached:
    item: str
    id_number: str
    name: str
    residence_region: str
    reason: str


@dataclass
class CoverageRow:
    item: ServiceItem
    entitled: int | None
    reached: int | None
    # Why a figure is empty: the registry cannot say who it is for, a value is not set…
    note: str = ""
    not_reached: list[NotReached] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        if not self.entitled or self.reached is None:
            return None
        return (Decimal(self.reached) / Decimal(self.entitled)).quantize(
            RATE_PLACES, rounding=ROUND_HALF_UP
        )

    @property
    def rate_text(self) -> str:
        rate = self.rate
        return "" if rate is None else f"{rate:.4f}"

    @property
    def rate_percent(self) -> str:
        """The rate as people read it (``33.33%``); empty when there is none."""
        rate = self.rate
        return "" if rate is None else f"{rate * 100:.2f}%"


@dataclass
class Figures:
    """One item's figures in an area: entitled, reached (None: no system of ours records it)
    and, when asked, the entitled not reached in id order, each as (ID number, name, residence
    code, residence path, registration path, held for want of an account)."""

    entitled: int
    reached: int | None
    missed: list[tuple] = field(default_factory=list)


def entitled_elders(item: ServiceItem, region: Region, start: datetime.date) -> QuerySet:
    """The elders of ``region`` the item is for on its evaluation day (PolicyValueNotSet when
    its condition reads a rulebook age that is not set). Below the province the condition's
    subqueries (categories held, placements) read the area's elders' rows only."""
    day = evaluation_day(item, start)
    area = Elder.objects.filter(lives_in(region))
    population = area.values("pk") if region.parent_id else None
    who = conditions.to_q(item.condition, on=day, region=region, elder_ids=population)
    return area.filter(alive_on(day)).filter(who)


class _Reasons:
    """Why an entitled elder was not reached, read once per area and period (no query per
    elder): no visit worker covers where they live, a standard is not set, none recorded."""

    def __init__(self, region: Region, start: datetime.date, end: datetime.date):
        from visits.models import VisitWorker

        self.worker_paths = tuple(
            VisitWorker.objects.filter(start_date__lte=end)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
            .values_list("area__path", flat=True)
            .distinct()
        )
        self.region, self.start = region, start
        # Paid, but held: the payee has no account to pay it to (docs/policy.md §1).
        self.no_account = _("无领取账户")

    def general(self, item: ServiceItem) -> str:
        how = item.reached_through
        own = not_reached_reason(item)
        if own:
            return own
        if how == ReachedThrough.PAYMENT_LINE:
            if item.standard_key:
                resolved = resolve_policy(
                    item.standard_key, self.region, evaluation_day(item, self.start)
                )
                if not resolved.is_set:
                    return _("标准未设定（%(key)s）") % {"key": resolved.key.label}
            return _("本期无发放记录")
        return {
            ReachedThrough.VISIT: _("本期未探访"),
            ReachedThrough.ABILITY_ASSESSMENT: _("本期未评估"),
            ReachedThrough.HEALTH_CHECK: _("本期未体检"),
        }.get(how, _("无服务记录"))

    def of(self, item: ServiceItem, general: str, path: str, residence_known: bool) -> str:
        if item.reached_through == ReachedThrough.VISIT and not any(
            path.startswith(p) for p in self.worker_paths
        ):
            general = _("未分配探访人员")
        return general if residence_known else _("%(reason)s；常住地未登记") % {"reason": general}


# PostgreSQL's memory for one hash in the coverage's queries (SET LOCAL, for its transaction
# only): a condition's subquery under an OR (a category held, or an ability level) is hashed
# once if it fits, and otherwise re-read for every elder. The province's categories at a
# million elders need about 20 MB; the server's default is 4 MB. JIT off as for the exports:
# each count is compiled anew, for a plan run once.
COVERAGE_WORK_MEM = "64MB"


@contextmanager
def _planner_settings():
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = %s", [COVERAGE_WORK_MEM])
        cursor.execute("SET LOCAL jit = off")
        yield


def coverage(
    region: Region, start: datetime.date, end: datetime.date, *, named: bool = False
) -> list[CoverageRow]:
    """One row per item in force in ``region`` in [start, end], in the list's order; with
    ``named``, each row also lists the entitled elders not reached and why."""
    region.__dict__.pop("_area_ids", None)  # the tree as it is now, read once for the call
    with _planner_settings():
        return _coverage(region, start, end, named=named)


class _SqlReading:
    """Each item counted in SQL, its entitled and its reached elders with a query each: for
    areas too large to hold in memory (a province, a city)."""

    def __init__(self, region: Region, start: datetime.date, end: datetime.date):
        self.region, self.start, self.end = region, start, end

    def figures(self, item: ServiceItem, *, named: bool) -> Figures:
        entitled = entitled_elders(item, self.region, self.start)
        entitled_count = entitled.count()
        reached = reached_elders(item, self.start, self.end)
        if reached is None:
            return Figures(entitled_count, None)
        figures = Figures(entitled_count, entitled.filter(pk__in=reached).count())
        if named and figures.reached < entitled_count:
            figures.missed = list(
                entitled.exclude(pk__in=reached)
                .annotate(no_account=held_for_want_of_account(item, self.start, self.end))
                .order_by("pk")
                .values_list(
                    "id_number",
                    "name",
                    "residence_region__code",
                    "residence_region__path",
                    "hukou_region__path",
                    "no_account",
                )
            )
        return figures


def _reading(region: Region, start: datetime.date, end: datetime.date, items: list[ServiceItem]):
    """The area's elders held in memory when there are few enough of them
    (SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS), else counted in SQL item by item."""
    from servicelist.area_reading import AreaReading

    limit = settings.SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS
    if limit and Elder.objects.filter(lives_in(region))[: limit + 1].count() <= limit:
        return AreaReading(region, start, end, items)
    return _SqlReading(region, start, end)


def _coverage(
    region: Region, start: datetime.date, end: datetime.date, *, named: bool
) -> list[CoverageRow]:
    from regions.selectors import PolicyValueNotSet

    reasons = _Reasons(region, start, end) if named else None
    items = items_in_force(region, start, end)
    reading = _reading(region, start, end, items)
    rows = []
    for item in items:
        if item.condition is None:
            rows.append(CoverageRow(item, None, None, _("对象无法从名册判定")))
            continue
        try:
            figures = reading.figures(item, named=named)
        except PolicyValueNotSet as missing:
            rows.append(
                CoverageRow(item, None, None, _("条件所需参数未设定：%(key)s") % {"key": missing})
            )
            continue
        if figures.reached is None:
            rows.append(CoverageRow(item, figures.entitled, None, _("本系统不记录其落实")))
            continue
        row = CoverageRow(item, figures.entitled, figures.reached)
        if figures.missed:
            general = reasons.general(item)
            row.not_reached = [
                NotReached(
                    item=item.code,
                    id_number=id_number,
                    name=name,
                    residence_region=residence or "",
                    reason=reasons.of(
                        item,
                        reasons.no_account if no_account else general,
                        residence_path or hukou_path,
                        bool(residence),
                    ),
                )
                for id_number, name, residence, residence_path, hukou_path, no_account in (
                    figures.missed
                )
            ]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class ElderItem:
    """One item in force where an elder lives, for the elder's page: whether it is for them
    (None: the registry cannot say) and whether they received it in the period (None: no
    system of ours records it)."""

    item: ServiceItem
    entitled: bool | None
    received: bool | None

    @property
    def missing(self) -> bool:
        return bool(self.entitled) and self.received is False


def elder_items(elder: Elder, start: datetime.date, end: datetime.date) -> list[ElderItem]:
    """Every item in force where ``elder`` lives (residence, else registration) in the
    period: entitled, received, missing — the same readings as coverage, for one elder."""
    from regions.selectors import PolicyValueNotSet

    place = elder.residence_region or elder.hukou_region
    found = []
    for item in items_in_force(place, start, end):
        entitled = None
        if item.condition is not None:
            try:
                entitled = entitled_elders(item, place, start).filter(pk=elder.pk).exists()
            except PolicyValueNotSet:
                entitled = None
        reached = reached_elders(item, start, end)
        received = None if reached is None else reached.filter(elder_id=elder.pk).exists()
        found.append(ElderItem(item, entitled, received))
    return found
