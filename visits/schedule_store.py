"""Visit schedules worked out ahead, so that the dashboard counts a district's months of visit
compliance with a few set-based queries.

Who must be visited, and how often, is worked out per elder in Python
(``visits.selectors.ScheduleBook``: the lists' conditions over each elder's facts): at a million
elders a district's year took minutes. What it gives changes only when a fact it reads changes
— never with the visits, nor with the days passing within a month — so ``keep_schedules``
(Celery beat, every few minutes) stores it per county and month of a window (``ScheduleMonth``):

- ``ScheduleRun``: per elder and month, the runs of days owed daily and, for a month owed
  monthly, the first day owed. The running month is counted from them by SQL, joined to the
  visits as they are now: a visit logged a second ago counts.
- For a month that is over, the visits are counted too, per elder (``ScheduleTally``) and per
  place (``ScheduleTotal``, the tallies' sum): the dashboard reads a few rows per street.

Why what is read stays true:

- Every fact a schedule reads — an elder's birth and death dates, places, pension and
  disability certificate, categories, assessments, stays and the type of the bed — is watched
  by triggers in the database (``install_triggers``), so that every writer (the services, an
  ORM ``update()``, an import, plain SQL) records the elder in ``ScheduleChange`` in its own
  transaction. So does a visit logged, edited or removed in a month that is over
  (``ScheduleState.tallied_before``). A reading sets those elders' stored rows aside and works
  them out as it reads; ``keep_schedules`` stores them again and removes the record.
- A change to the rulebook, the eligibility rules (the visit lists) or the administrative tree
  raises ``ScheduleState.version`` (triggers again): months stored under an older version are
  not read, and are worked out as they are read until ``keep_schedules`` has stored them again.
- A month not stored — outside the window, not yet reached by the job, or whose rules cannot be
  applied (a value not set: ``ScheduleMonth.error``) — is worked out as it is read, as before.
- The job is the only writer (an advisory lock on PostgreSQL); each county's months and each
  batch of changes are written in one transaction that keeps the totals equal to the tallies,
  so a job killed at any point leaves the store as it was or as it should be.

``tests/dashboards/test_stored_schedules.py`` holds the stored reading equal to the reading
worked out afresh after visits, edits of every watched kind, rule changes and runs of the job.
"""

from __future__ import annotations

import bisect
import datetime
import time
from collections import defaultdict
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Least, TruncDate
from django.utils import timezone

from regions.choices import RegionLevel
from regions.models import Region
from residents.models import Elder
from visits.choices import VisitFrequency
from visits.models import (
    ScheduleChange,
    ScheduleMonth,
    ScheduleRun,
    ScheduleState,
    ScheduleTally,
    ScheduleTotal,
    Visit,
)
from visits.selectors import (
    _SCHEDULE_ERRORS,
    COUNTED_OUTCOMES,
    ONE_DAY,
    GroupBy,
    ScheduleBook,
    _Accountability,
    _count_between,
    _runs_by_elder,
    day_start,
    local_tz,
    month_bounds,
)

# Per sort or hash of one query of the schedules' reads (see ``tuned_reads``).
READING_WORK_MEM = "64MB"
# Months kept ahead, the running one included: a year of months that are over, and this one.
DEFAULT_WINDOW_MONTHS = 13
# Elders recorded as changed, worked out again per transaction.
CHANGES_PER_BATCH = 5000
INSERT_BATCH = 5000
# One job at a time: PostgreSQL advisory lock key ("VSCH").
_LOCK_KEY = 0x56534348

# (first day, last day read) of each month of a period: the last day is the month's end, or
# today in the running month.
Span = tuple[datetime.date, datetime.date]
# Per line (street, community): [daily owed, daily done, monthly owed, monthly done], each a
# list with one figure per month.
Figures = dict[str, list[list[int]]]


def window_months() -> int:
    return getattr(settings, "VISIT_SCHEDULE_MONTHS", DEFAULT_WINDOW_MONTHS)


def _add_months(first: datetime.date, months: int) -> datetime.date:
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@contextmanager
def tuned_reads():
    """Reads of the visit schedules in one transaction tuned for them (PostgreSQL): enough
    memory that the visit lists' first cut of elders (``id IN (category periods)`` OR …,
    which the planner cannot turn into a join) is matched against a hash of the periods
    instead of a scan of them per elder — at a million elders the difference between seconds
    and a quarter of an hour — and no JIT compilation, which costs more than these queries
    save."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{READING_WORK_MEM}'")
                cursor.execute("SET LOCAL jit = off")
        yield


# --- the triggers ----------------------------------------------------------------------------

# The elder's own columns a schedule reads (regions.conditions.Facts and the lists' first cut);
# tests/dashboards/test_stored_schedules.py holds this list to the fields of Facts.
WATCHED_ELDER_COLUMNS = (
    "birth_date",
    "death_date",
    "hukou_region_id",
    "residence_region_id",
    "pension_type",
    "disability_category",
    "disability_grade",
)
# Rows that belong to one elder: any insert, update or delete changes that elder's facts.
WATCHED_ELDER_ROWS = ("residents_eldercategory", "residents_abilityassessment", "facilities_stay")
# Tables whose any change may change every schedule.
WATCHED_RULES = ("regions_policyvalue", "regions_eligibilityrule", "regions_region")

_CHANGES = ScheduleChange._meta.db_table
_STATE = ScheduleState._meta.db_table
_VISITS = Visit._meta.db_table
_BUMP = (
    f"INSERT INTO {_STATE} (id, version) VALUES (1, 1) "
    f"ON CONFLICT (id) DO UPDATE SET version = {_STATE}.version + 1"
)


def _postgresql_triggers() -> list[str]:
    changed = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED_ELDER_COLUMNS)
    statements = [
        f"""
        CREATE OR REPLACE FUNCTION visits_schedule_elders_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO {_CHANGES} (elder_id) SELECT id FROM new_rows;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO {_CHANGES} (elder_id)
                SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {changed};
            ELSE
                INSERT INTO {_CHANGES} (elder_id) SELECT id FROM old_rows;
            END IF;
            RETURN NULL;
        END $$""",
        f"""
        CREATE OR REPLACE FUNCTION visits_schedule_facts_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO {_CHANGES} (elder_id) SELECT DISTINCT elder_id FROM new_rows;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO {_CHANGES} (elder_id)
                SELECT elder_id FROM old_rows UNION SELECT elder_id FROM new_rows;
            ELSE
                INSERT INTO {_CHANGES} (elder_id) SELECT DISTINCT elder_id FROM old_rows;
            END IF;
            RETURN NULL;
        END $$""",
        f"""
        CREATE OR REPLACE FUNCTION visits_schedule_beds_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {_CHANGES} (elder_id)
            SELECT DISTINCT s.elder_id FROM facilities_stay s
            JOIN new_rows n ON n.id = s.bed_id JOIN old_rows o ON o.id = n.id
            WHERE n.bed_type IS DISTINCT FROM o.bed_type;
            RETURN NULL;
        END $$""",
        # A visit in a month already tallied. The state row is read FOR KEY SHARE, held until
        # the visit's transaction ends: the job moves ``tallied_before`` FOR UPDATE, so it
        # waits for visits in flight (then reads them) and later ones see the new date.
        f"""
        CREATE OR REPLACE FUNCTION visits_schedule_visits_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            before timestamptz;
        BEGIN
            SELECT tallied_before INTO before FROM {_STATE} WHERE id = 1 FOR KEY SHARE;
            IF before IS NULL THEN
                RETURN NULL;
            END IF;
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                INSERT INTO {_CHANGES} (elder_id)
                SELECT DISTINCT elder_id FROM old_rows WHERE visited_at < before;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO {_CHANGES} (elder_id)
                SELECT DISTINCT elder_id FROM new_rows WHERE visited_at < before;
            END IF;
            RETURN NULL;
        END $$""",
        f"""
        CREATE OR REPLACE FUNCTION visits_schedule_rules_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {_BUMP};
            RETURN NULL;
        END $$""",
    ]
    # Transition tables allow one event per trigger.
    references = {
        "INSERT": "REFERENCING NEW TABLE AS new_rows",
        "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "REFERENCING OLD TABLE AS old_rows",
    }
    tables = [
        ("residents_elder", "visits_schedule_elders_changed"),
        (_VISITS, "visits_schedule_visits_changed"),
    ] + [(table, "visits_schedule_facts_changed") for table in WATCHED_ELDER_ROWS]
    for table, function in tables:
        for event, referencing in references.items():
            name = f"visits_schedule_{event.lower()}"
            statements += [
                f"DROP TRIGGER IF EXISTS {name} ON {table}",
                f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
            ]
    statements += [
        "DROP TRIGGER IF EXISTS visits_schedule_update ON facilities_bed",
        f"CREATE TRIGGER visits_schedule_update AFTER UPDATE ON facilities_bed "
        f"{references['UPDATE']} FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_schedule_beds_changed()",
    ]
    for table in WATCHED_RULES:
        statements += [
            f"DROP TRIGGER IF EXISTS visits_schedule_rules ON {table}",
            f"CREATE TRIGGER visits_schedule_rules AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION visits_schedule_rules_changed()",
        ]
    return statements


def _sqlite_triggers() -> list[str]:
    # SQLite has one writer at a time: no lock is needed around the state row.
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED_ELDER_COLUMNS)

    def trigger(name, event, table, body, when=""):
        return [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {when} BEGIN {body}; END",
        ]

    record = f"INSERT INTO {_CHANGES} (elder_id) VALUES"
    tallied = f"(SELECT tallied_before FROM {_STATE} WHERE id = 1)"
    statements = [
        *trigger("visits_schedule_elder_insert", "INSERT", "residents_elder", f"{record} (NEW.id)"),
        *trigger(
            "visits_schedule_elder_update",
            "UPDATE",
            "residents_elder",
            f"{record} (NEW.id)",
            when=f"WHEN {changed}",
        ),
        *trigger("visits_schedule_elder_delete", "DELETE", "residents_elder", f"{record} (OLD.id)"),
        *trigger(
            "visits_schedule_bed_update",
            "UPDATE",
            "facilities_bed",
            f"INSERT INTO {_CHANGES} (elder_id) "
            "SELECT elder_id FROM facilities_stay WHERE bed_id = NEW.id",
            when="WHEN OLD.bed_type IS NOT NEW.bed_type",
        ),
        *trigger(
            "visits_schedule_visit_insert",
            "INSERT",
            _VISITS,
            f"{record} (NEW.elder_id)",
            when=f"WHEN NEW.visited_at < {tallied}",
        ),
        *trigger(
            "visits_schedule_visit_update",
            "UPDATE",
            _VISITS,
            f"{record} (OLD.elder_id), (NEW.elder_id)",
            when=f"WHEN OLD.visited_at < {tallied} OR NEW.visited_at < {tallied}",
        ),
        *trigger(
            "visits_schedule_visit_delete",
            "DELETE",
            _VISITS,
            f"{record} (OLD.elder_id)",
            when=f"WHEN OLD.visited_at < {tallied}",
        ),
    ]
    for table in WATCHED_ELDER_ROWS:
        statements += trigger(
            f"visits_schedule_{table}_insert", "INSERT", table, f"{record} (NEW.elder_id)"
        )
        statements += trigger(
            f"visits_schedule_{table}_update",
            "UPDATE",
            table,
            f"{record} (OLD.elder_id), (NEW.elder_id)",
        )
        statements += trigger(
            f"visits_schedule_{table}_delete", "DELETE", table, f"{record} (OLD.elder_id)"
        )
    for table in WATCHED_RULES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            statements += trigger(f"visits_schedule_{table}_{event.lower()}", event, table, _BUMP)
    return statements


def drop_sqlite_triggers(using: str = "default") -> None:
    """Before migrating on SQLite (visits.apps): the triggers are created again after."""
    from django.db import connections

    db = connections[using]
    if db.vendor != "sqlite":
        return
    with db.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = [name for (name,) in cursor.fetchall() if name.startswith("visits_schedule_")]
        for name in names:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def install_triggers(using: str = "default") -> None:
    """Create (or replace) the triggers on the database ``using``: run after every migrate
    (visits.apps), so that a table rebuilt by a migration — SQLite drops a rebuilt table's
    triggers — has them again. Nothing is done while a watched table does not exist yet."""
    from django.db import connections

    db = connections[using]
    tables = set(db.introspection.table_names())
    needed = {
        "residents_elder",
        "facilities_bed",
        _CHANGES,
        _STATE,
        _VISITS,
        *WATCHED_ELDER_ROWS,
        *WATCHED_RULES,
    }
    if not needed <= tables:
        return
    statements = _postgresql_triggers() if db.vendor == "postgresql" else _sqlite_triggers()
    with transaction.atomic(using=using), db.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# --- the state -------------------------------------------------------------------------------


def rules_version() -> int:
    row = ScheduleState.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 0


def tallied_before() -> datetime.date | None:
    """The first day of the first month not tallied (months before it are over)."""
    moment = ScheduleState.objects.filter(pk=1).values_list("tallied_before", flat=True).first()
    return None if moment is None else timezone.localtime(moment, local_tz()).date()


def _close_months_before(month: datetime.date) -> None:
    """Move ``tallied_before`` to ``month`` (its first local instant): from then on a visit
    logged in an earlier month records its elder as changed. The row is taken FOR UPDATE, so
    this waits for the visits being logged (they hold it FOR KEY SHARE) and so the counts
    read afterwards see them."""
    moment = day_start(month)
    with transaction.atomic():
        state, _ = ScheduleState.objects.select_for_update().get_or_create(pk=1)
        if state.tallied_before is None or state.tallied_before < moment:
            state.tallied_before = moment
            state.save(update_fields=["tallied_before"])


@contextmanager
def _job_lock():
    """One writer of the store at a time (PostgreSQL: a session advisory lock, released when
    the job ends or its connection dies). Yields False when another job holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


# --- one elder's months --------------------------------------------------------------------


def _seen_days(elder_ids, start: datetime.date, end: datetime.date) -> dict[int, list]:
    """The (local) days in [start, end] on which each elder had a counted visit, in order."""
    tz = local_tz()
    seen: dict[int, list[datetime.date]] = defaultdict(list)
    for elder_id, day in sorted(
        {
            (elder_id, visited_at.astimezone(tz).date())
            for elder_id, visited_at in Visit.objects.filter(
                elder_id__in=elder_ids,
                outcome__in=COUNTED_OUTCOMES,
                visited_at__gte=day_start(start),
                visited_at__lt=day_start(end + ONE_DAY),
            ).values_list("elder_id", "visited_at")
        }
    ):
        seen[elder_id].append(day)
    return seen


def _elder_months(runs, seen: list | None, firsts: list, lasts: list) -> dict[int, list[int]]:
    """One elder's figures per month index of the spans ``(firsts[i], lasts[i])``: [days owed
    daily, of them with a counted visit, 1 if owed monthly, 1 if also a counted visit fell in
    the month up to its last day read]. ``runs`` are the elder's ``(first, last, schedule)``;
    ``seen`` the days of its counted visits, in order."""
    count = len(firsts)
    months: dict[int, list[int]] = {}
    for run_first, run_last, schedule in runs:
        is_daily = schedule.frequency == VisitFrequency.DAILY
        # Each month the run touches, and the piece of the run inside it.
        i = max(bisect.bisect_right(firsts, run_first) - 1, 0)
        while i < count and firsts[i] <= run_last:
            first = run_first if run_first > firsts[i] else firsts[i]
            last = run_last if run_last < lasts[i] else lasts[i]
            if first <= last:
                figures = months.setdefault(i, [0, 0, 0, 0])
                if is_daily:
                    figures[0] += (last - first).days + 1
                    if seen:
                        figures[1] += _count_between(seen, first, last)
                elif not figures[2]:
                    figures[2] = 1
                    if seen and _count_between(seen, firsts[i], lasts[i]):
                        figures[3] = 1
            i += 1
    return months


def _month_rows(elder, runs, months: set[datetime.date]) -> list[ScheduleRun]:
    """An elder's runs ``(first, last, schedule)`` cut at month ends, for the months wanted:
    the daily pieces of each month (adjacent ones joined), and one row for a month owed
    monthly, from its first day owed."""
    daily: list[list] = []  # [month, first, last]
    monthly: dict[datetime.date, list[datetime.date]] = {}
    for run_first, run_last, schedule in runs:
        first = run_first
        while first <= run_last:
            month, month_end = month_bounds(first)
            last = min(run_last, month_end)
            if month in months:
                if schedule.frequency == VisitFrequency.DAILY:
                    if daily and daily[-1][0] == month and daily[-1][2] + ONE_DAY == first:
                        daily[-1][2] = last
                    else:
                        daily.append([month, first, last])
                else:
                    owed = monthly.setdefault(month, [first, last])
                    owed[1] = last
            first = month_end + ONE_DAY
    place = elder.region.pk
    rows = [
        ScheduleRun(elder_id=elder.id, place_id=place, month=m, first_day=f, last_day=t, daily=True)
        for m, f, t in daily
    ]
    rows += [
        ScheduleRun(
            elder_id=elder.id, place_id=place, month=m, first_day=f, last_day=t, daily=False
        )
        for m, (f, t) in monthly.items()
    ]
    return rows


def _tally_rows(elder, runs, seen, closed: list[datetime.date]) -> list[ScheduleTally]:
    """The elder's tallies of the months ``closed`` (first days, in order, each wholly over)."""
    if not closed:
        return []
    lasts = [month_bounds(first)[1] for first in closed]
    return [
        ScheduleTally(
            elder_id=elder.id,
            place_id=elder.region.pk,
            month=closed[i],
            daily_owed=figures[0],
            daily_done=figures[1],
            monthly_owed=figures[2],
            monthly_done=figures[3],
        )
        for i, figures in sorted(_elder_months(runs, seen, closed, lasts).items())
    ]


# --- writing: the job --------------------------------------------------------------------------


def _remove_tallies(tallies) -> None:
    """Delete the ScheduleTally rows of the queryset ``tallies``, taking them off their
    places' totals."""
    removed = list(
        tallies.values("place_id", "month").annotate(
            daily_owed=Sum("daily_owed"),
            daily_done=Sum("daily_done"),
            monthly_owed=Sum("monthly_owed"),
            monthly_done=Sum("monthly_done"),
        )
    )
    for row in removed:
        ScheduleTotal.objects.filter(place_id=row["place_id"], month=row["month"]).update(
            daily_owed=F("daily_owed") - row["daily_owed"],
            daily_done=F("daily_done") - row["daily_done"],
            monthly_owed=F("monthly_owed") - row["monthly_owed"],
            monthly_done=F("monthly_done") - row["monthly_done"],
        )
    tallies.delete()


def _add_tallies(rows: list[ScheduleTally]) -> None:
    """Insert the tallies and add them to their places' totals."""
    ScheduleTally.objects.bulk_create(rows, batch_size=INSERT_BATCH)
    sums: dict[tuple[int, datetime.date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        total = sums[(row.place_id, row.month)]
        total[0] += row.daily_owed
        total[1] += row.daily_done
        total[2] += row.monthly_owed
        total[3] += row.monthly_done
    for (place_id, month), (d_owed, d_done, m_owed, m_done) in sums.items():
        total, _ = ScheduleTotal.objects.get_or_create(place_id=place_id, month=month)
        ScheduleTotal.objects.filter(pk=total.pk).update(
            daily_owed=F("daily_owed") + d_owed,
            daily_done=F("daily_done") + d_done,
            monthly_owed=F("monthly_owed") + m_owed,
            monthly_done=F("monthly_done") + m_done,
        )


def refresh(region: Region, months: list[datetime.date]) -> None:
    """Work out and store the schedules of the elders placed in ``region`` for ``months``
    (first days, in order) — and the tallies of those that are over — in one transaction; a
    month whose rules cannot be applied is stored with the reason instead (and worked out as
    it is read, with its note)."""
    version = rules_version()  # before any fact is read: a change after it makes these stale
    before = tallied_before()
    closed = [m for m in months if before is not None and m < before]
    start, end = months[0], month_bounds(months[-1])[1]
    try:
        with tuned_reads():
            book = ScheduleBook(areas=[region], start=start, end=end)
            elders = list(book.elders.values())
            runs = _runs_by_elder(book, elders)
            seen = _seen_days(book.candidates.values("id"), start, end) if closed else {}
    except _SCHEDULE_ERRORS as error:
        if len(months) > 1:
            for month in months:
                refresh(region, [month])
            return
        _store(region, months, version, closed, book=None, runs=[], tallies=[], error=str(error))
        return
    wanted = set(months)
    run_rows, tally_rows = [], []
    for elder, elder_runs in zip(elders, runs, strict=True):
        run_rows += _month_rows(elder, elder_runs, wanted)
        tally_rows += _tally_rows(elder, elder_runs, seen.get(elder.id), closed)
    _store(region, months, version, closed, book=book, runs=run_rows, tallies=tally_rows)


def _store(region, months, version, closed, *, book, runs, tallies, error: str = "") -> None:
    now = timezone.now()
    placed = Q(place__path__startswith=region.path)
    if book is not None:
        placed |= Q(elder_id__in=book.candidates.values("id"))
    with transaction.atomic():
        ScheduleRun.objects.filter(month__in=months).filter(placed).delete()
        _remove_tallies(ScheduleTally.objects.filter(month__in=months).filter(placed))
        ScheduleRun.objects.bulk_create(runs, batch_size=INSERT_BATCH)
        _add_tallies(tallies)
        for month in months:
            ScheduleMonth.objects.update_or_create(
                region=region,
                month=month,
                defaults={
                    "rules_version": version,
                    "tallied": month in closed and not error,
                    "error": error[:500],
                    "computed_at": now,
                },
            )


def apply_changes(*, batch: int = CHANGES_PER_BATCH) -> int:
    """Work out again the stored schedules (and tallies) of the elders recorded in
    ScheduleChange, for every month stored under the current rules, and remove the records;
    returns how many were applied. An elder whose schedule cannot be worked out keeps its
    record (a reading then works it out, and says why it cannot)."""
    applied, after = 0, 0
    while True:
        version = rules_version()
        covered: dict[datetime.date, list[str]] = defaultdict(list)
        tallied: dict[datetime.date, list[str]] = defaultdict(list)
        for month, path, is_tallied in ScheduleMonth.objects.filter(
            rules_version=version, error=""
        ).values_list("month", "region__path", "tallied"):
            covered[month].append(path)
            if is_tallied:
                tallied[month].append(path)
        changes = list(
            ScheduleChange.objects.filter(id__gt=after)
            .order_by("id")
            .values_list("id", "elder_id")[:batch]
        )
        if not changes:
            return applied
        after = changes[-1][0]
        if not covered:
            # Nothing is stored under these rules: nothing to work out again.
            ScheduleChange.objects.filter(id__lte=after).delete()
            applied += len(changes)
            continue
        elder_ids = {elder_id for _, elder_id in changes}
        runs, tallies, failed = _rows_for(elder_ids, covered, tallied)
        with transaction.atomic():
            ScheduleRun.objects.filter(elder_id__in=elder_ids).delete()
            _remove_tallies(ScheduleTally.objects.filter(elder_id__in=elder_ids))
            ScheduleRun.objects.bulk_create(runs, batch_size=INSERT_BATCH)
            _add_tallies(tallies)
            done = [pk for pk, elder_id in changes if elder_id not in failed]
            ScheduleChange.objects.filter(pk__in=done).delete()
        applied += len(done)


def _rows_for(elder_ids, covered, tallied):
    months = sorted(covered)
    paths = sorted({p for ps in covered.values() for p in ps})
    start, end = months[0], month_bounds(months[-1])[1]
    with tuned_reads():
        book = ScheduleBook(
            areas=list(Region.objects.filter(path__in=paths)),
            start=start,
            end=end,
            elders=Elder.objects.filter(pk__in=elder_ids),
        )
        seen = _seen_days(book.candidates.values("id"), start, end) if tallied else {}
    runs, tallies, failed = [], [], set()
    for elder in book.elders.values():
        try:
            elder_runs = book.intervals(elder)
        except _SCHEDULE_ERRORS:
            failed.add(elder.id)
            continue
        path = elder.region.path
        wanted = {m for m in months if any(path.startswith(p) for p in covered[m])}
        closed = [m for m in months if any(path.startswith(p) for p in tallied.get(m, ()))]
        runs += _month_rows(elder, elder_runs, wanted)
        tallies += _tally_rows(elder, elder_runs, seen.get(elder.id), closed)
    return runs, tallies, failed


def keep_schedules(
    *,
    regions: list[Region] | None = None,
    today: datetime.date | None = None,
    seconds: float | None = None,
) -> dict:
    """The job (Celery beat, visits.tasks): close the months before this one, apply the
    recorded changes, then store every county's months of the window (``VISIT_SCHEDULE_MONTHS``,
    the running one last) that are missing, stored under older rules, or over and not yet
    tallied; then forget the months before the window. ``regions`` narrows the counties;
    ``seconds`` stops starting new counties after that long (the next run goes on).
    Idempotent; killed, it leaves each county's months either as they were or stored, and the
    next run goes on."""
    today = today or datetime.datetime.now(local_tz()).date()
    current = today.replace(day=1)
    window = [_add_months(current, -n) for n in range(window_months() - 1, -1, -1)]
    started = time.monotonic()
    summary = {"changes": 0, "stored": 0, "skipped": False}
    with _job_lock() as held:
        if not held:
            summary["skipped"] = True
            return summary
        _close_months_before(current)
        summary["changes"] = apply_changes()
        counties = regions or list(Region.objects.filter(level=RegionLevel.COUNTY).order_by("path"))
        version = rules_version()
        stored = {
            (region_id, month)
            for region_id, month, tallied, error in ScheduleMonth.objects.filter(
                rules_version=version, month__in=window
            ).values_list("region_id", "month", "tallied", "error")
            if tallied or error or month >= current
        }
        for county in counties:
            missing = [m for m in window if (county.pk, m) not in stored]
            if not missing:
                continue
            if seconds is not None and time.monotonic() - started > seconds:
                break
            refresh(county, missing)
            summary["stored"] += len(missing)
        with transaction.atomic():
            ScheduleRun.objects.filter(month__lt=window[0]).delete()
            _remove_tallies(ScheduleTally.objects.filter(month__lt=window[0]))
            ScheduleTotal.objects.filter(month__lt=window[0]).delete()
            ScheduleMonth.objects.filter(month__lt=window[0]).delete()
    return summary


# --- reading ----------------------------------------------------------------------------------


def _new_line(count: int) -> list[list[int]]:
    return [[0] * count for _ in range(4)]


def _add_to(figures: Figures, key: str, index: int, values, count: int, sign: int = 1) -> None:
    line = figures.get(key)
    if line is None:
        line = figures[key] = _new_line(count)
    for figure, value in zip(line, values, strict=True):
        figure[index] += sign * value


def live_figures(book: ScheduleBook, spans: list[Span], accountable: _Accountability) -> Figures:
    """The figures of each month, worked out from ``book`` (whose period is the spans'): a day
    owed daily is one elder-day, done when a counted visit falls on it; a month with a day
    owed monthly is one elder-month, done when a counted visit falls in it on or before the
    month's last day read. Raises what the schedules raise when their rules cannot be
    applied."""
    elders = list(book.elders.values())
    runs_by_elder = _runs_by_elder(book, elders)
    seen = _seen_days(book.candidates.values("id"), spans[0][0], spans[-1][1])
    firsts = [first for first, _ in spans]
    lasts = [last for _, last in spans]
    figures: Figures = {}
    for elder, runs in zip(elders, runs_by_elder, strict=True):
        if not runs:
            continue
        months = _elder_months(runs, seen.get(elder.id), firsts, lasts)
        # The place's line(s), whatever the day: accountability by area does not change.
        for key in accountable.keys(elder, runs[0][0]):
            for i, values in months.items():
                _add_to(figures, key, i, values, len(spans))
    return figures


def _counties_of(area: Region) -> list[Region] | None:
    """The counties whose stored months hold every elder placed in ``area``; None when some
    elder of the area is placed above county level (never stored)."""
    if area.level not in (RegionLevel.PROVINCE, RegionLevel.CITY):
        codes = [c for c in area.path.split("/") if c]
        return list(Region.objects.filter(code__in=codes, level=RegionLevel.COUNTY))
    above = Region.objects.filter(
        path__startswith=area.path, level__in=(RegionLevel.PROVINCE, RegionLevel.CITY)
    ).values("id")
    if Elder.objects.filter(
        Q(residence_region__in=above) | Q(residence_region__isnull=True, hukou_region__in=above)
    ).exists():
        return None
    return list(Region.objects.filter(path__startswith=area.path, level=RegionLevel.COUNTY))


def stored_months(area: Region, months: list[datetime.date]) -> dict[datetime.date, bool] | None:
    """For each month, whether the schedules of every elder of ``area`` are stored under the
    rules in force, and tallied (True) or not (False); None when some month is not stored."""
    counties = _counties_of(area)
    if not counties:
        return None
    rows = list(
        ScheduleMonth.objects.filter(
            region__in=counties, month__in=months, rules_version=rules_version(), error=""
        ).values_list("month", "tallied")
    )
    if len(rows) != len(counties) * len(set(months)):
        return None
    tallied = dict.fromkeys(months, True)
    for month, is_tallied in rows:
        tallied[month] = tallied[month] and is_tallied
    return tallied


def is_stored(area: Region, months: list[datetime.date]) -> bool:
    return stored_months(area, months) is not None


def _place_keys(place_ids, accountable: _Accountability) -> dict[int, str]:
    return {
        region.pk: accountable.place_key(region)
        for region in Region.objects.filter(pk__in=place_ids).only("id", "code", "path", "level")
    }


def stored_figures(area: Region, spans: list[Span], accountable: _Accountability) -> Figures | None:
    """``live_figures`` for the elders of ``area`` over ``spans``, read from the store, or
    None when the months are not all stored under the rules in force: the months that are over
    from their totals, the others from the stored runs joined to the visits. The elders
    recorded as changed are set aside and worked out as they are read."""
    firsts = [first for first, _ in spans]
    stored = stored_months(area, firsts)
    if stored is None:
        return None
    count = len(spans)
    index = {first: i for i, first in enumerate(firsts)}
    # A month read in full and tallied comes from its totals; the others from the runs.
    totals = [first for first, last in spans if stored[first] and last == month_bounds(first)[1]]
    by_runs = [span for span in spans if span[0] not in totals]
    # As a subquery, never a list: after a large import thousands of elders wait for the job,
    # and a list of their ids would be sent with every query below (and outgrow SQLite's
    # limit on a statement's parameters).
    changed = ScheduleChange.objects.values("elder_id")
    has_changes = changed.exists()
    places = list(Region.objects.filter(path__startswith=area.path).values_list("id", flat=True))
    in_area = Q(place_id__in=places)
    rows: list[tuple[int, datetime.date, list[int], int]] = []  # (place, month, values, sign)
    if totals:
        for row in ScheduleTotal.objects.filter(in_area, month__in=totals).values_list(
            "place_id", "month", "daily_owed", "daily_done", "monthly_owed", "monthly_done"
        ):
            rows.append((row[0], row[1], list(row[2:]), 1))
        if has_changes:
            for row in ScheduleTally.objects.filter(
                in_area, month__in=totals, elder_id__in=changed
            ).values_list(
                "place_id", "month", "daily_owed", "daily_done", "monthly_owed", "monthly_done"
            ):
                rows.append((row[0], row[1], list(row[2:]), -1))
    for span in by_runs:
        runs = ScheduleRun.objects.filter(in_area)
        if has_changes:
            runs = runs.exclude(elder_id__in=changed)
        rows += _counted_from_runs(runs, span)
    keys = _place_keys({row[0] for row in rows}, accountable)
    figures: Figures = {}
    for place_id, month, values, sign in rows:
        _add_to(figures, keys[place_id], index[_as_date(month)], values, count, sign)
    if has_changes:
        book = ScheduleBook(
            areas=[area],
            start=spans[0][0],
            end=spans[-1][1],
            elders=Elder.objects.filter(pk__in=changed),
        )
        for key, line in live_figures(book, spans, accountable).items():
            for i in range(count):
                _add_to(figures, key, i, [figure[i] for figure in line], count)
    return figures


def _counted_from_runs(runs, span: Span) -> list[tuple]:
    """Per place, for the month of ``span`` (first day, last day read), counted from the
    stored ``runs`` of that month and the visits as they are now: (place, month, [days owed
    daily, of them visited, months owed monthly, of them visited], +1)."""
    first, last = span
    runs = runs.filter(month=first, first_day__lte=last)
    clipped = Least(F("last_day"), Value(last, output_field=DateField()))
    owed = {
        row["place_id"]: [
            (row["days"].days + row["daily_runs"]) if row["daily_runs"] else 0,
            0,
            row["monthly"],
            0,
        ]
        for row in runs.values("place_id").annotate(
            days=Sum(
                ExpressionWrapper(clipped - F("first_day"), output_field=DurationField()),
                filter=Q(daily=True),
            ),
            daily_runs=Count("id", filter=Q(daily=True)),
            monthly=Count("id", filter=Q(daily=False)),
        )
    }
    for place_id, daily_done, monthly_done in _done(runs, span):
        owed[place_id][1] += daily_done
        owed[place_id][3] += monthly_done
    return [(place_id, first, values, 1) for place_id, values in owed.items()]


def _as_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return value


def _done(runs, span: Span) -> list[tuple]:
    """Per place: the days owed daily on which a counted visit fell, and the elders owed
    monthly with a counted visit in the month up to its last day read (``span``; ``runs`` are
    that month's). The visits are read as they are now; each elder's (local) days are taken
    once."""
    first, last = span
    seen = (
        Visit.objects.filter(
            outcome__in=COUNTED_OUTCOMES,
            visited_at__gte=day_start(first),
            visited_at__lt=day_start(last + ONE_DAY),
            elder_id__in=runs.values("elder_id"),
        )
        .annotate(day=TruncDate("visited_at", tzinfo=local_tz()))
        .values("elder_id", "day")
        .order_by()  # no ordering column in the DISTINCT
        .distinct()
    )
    seen_sql, seen_params = seen.query.sql_with_params()
    runs_sql, runs_params = runs.values(
        "id", "elder_id", "place_id", "first_day", "last_day", "daily"
    ).query.sql_with_params()
    # Column aliases of the compiled queries are the names given to values().
    sql = f"""
        SELECT r.place_id,
               SUM(CASE WHEN r.daily AND s.day >= r.first_day AND s.day <= r.last_day
                   THEN 1 ELSE 0 END),
               COUNT(DISTINCT CASE WHEN r.daily THEN NULL ELSE r.id END)
        FROM ({runs_sql}) r JOIN ({seen_sql}) s ON s.elder_id = r.elder_id
        GROUP BY r.place_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*runs_params, *seen_params])
        return cursor.fetchall()


def month_figures(
    area: Region, spans: list[Span], group_by: str
) -> tuple[Figures, dict[str, str]] | None:
    """The figures of each month of ``spans`` for the elders of ``area`` by street or
    community (``group_by``), and the lines' labels: read from the store when the months are
    all stored under the rules in force, else worked out. None when the schedules cannot be
    worked out over the whole period (a rule not set, an unsupported frequency), or by worker
    (accountability then changes within a month): the caller reads month by month."""
    if group_by == GroupBy.WORKER:
        return None
    start, end = spans[0][0], spans[-1][1]
    accountable = _Accountability(area=area, start=start, end=end, group_by=group_by)
    try:
        figures = stored_figures(area, spans, accountable)
        if figures is None:
            book = ScheduleBook(areas=[area], start=start, end=end)
            figures = live_figures(book, spans, accountable)
    except _SCHEDULE_ERRORS:
        return None
    return figures, accountable.labels
