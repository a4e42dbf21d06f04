"""Writes of the visits app: one verb per change, each in one transaction.

The admin, the API, the demo and the tests all go through these functions.
"""

from __future__ import annotations

import datetime
import functools
import uuid as uuid_module
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from accounts.dates import check_elder_date, refuse_before
from accounts.rules import ElderPlace
from accounts.scoping import require_in_scope
from regions.choices import RegionLevel
from regions.models import Region
from residents.models import Elder
from visits.choices import FollowUpKind, FollowUpStatus, VisitNeed, VisitOutcome
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker
from visits.selectors import local_tz

# Phones' clocks drift and uploads cross midnight: a visit stamped up to this far in the
# future is accepted as a clock error rather than refused.
CLOCK_SKEW = datetime.timedelta(minutes=10)

AREA_LEVELS = (RegionLevel.STREET, RegionLevel.COMMUNITY, RegionLevel.GRID)

# Outcomes that leave work for the area's staff.
FOLLOW_UP_KINDS = {
    VisitOutcome.DECEASED: FollowUpKind.DEATH_REPORT,
    VisitOutcome.NEEDS_FOLLOW_UP: FollowUpKind.NEEDS,
}


def _with_history_user(instance, by):
    if by is not None:
        instance._history_user = by
    return instance


# --- assignments ----------------------------------------------------------------------------


@transaction.atomic
def assign_worker(
    *,
    user,
    area: Region,
    start_date: datetime.date,
    end_date: datetime.date | None = None,
    note: str = "",
    by=None,
) -> VisitWorker:
    """Assign a worker to a street, community or grid from ``start_date``."""
    if area.level not in AREA_LEVELS:
        raise ValidationError(
            {
                "area": _("探访区域须为街道、社区或网格，%(area)s为%(level)s。")
                % {"area": area.name, "level": area.get_level_display()}
            }
        )
    if not area.is_active:
        raise ValidationError({"area": _("%(area)s已撤销。") % {"area": area.name}})
    refuse_before(
        end_date, start_date, field="end_date", label=_("终止日期"), earliest_label=_("起始日期")
    )
    assignment = VisitWorker(
        user=user, area=area, start_date=start_date, end_date=end_date, note=note
    )
    require_in_scope(
        by, assignment, field="area", label=_("探访区域%(area)s") % {"area": area.name}
    )
    assignment.full_clean()
    _with_history_user(assignment, by).save()
    return assignment


@transaction.atomic
def end_assignment(*, assignment: VisitWorker, end_date: datetime.date, by=None) -> VisitWorker:
    require_in_scope(by, assignment, as_changed=False)
    if end_date < assignment.start_date:
        raise ValidationError(
            {
                "end_date": _("终止日期 %(end)s 早于起始日期 %(start)s。")
                % {"end": end_date, "start": assignment.start_date}
            }
        )
    assignment.end_date = end_date
    assignment.full_clean()
    _with_history_user(assignment, by).save()
    return assignment


# --- visits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitResult:
    visit: Visit
    created: bool  # False: the UUID was already stored; ``visit`` is the original


def _normalise_needs(needs) -> list[str]:
    needs = list(needs or [])
    unknown = [n for n in needs if n not in VisitNeed.values]
    if unknown:
        raise ValidationError(
            {
                "needs": _("未知的需求代码：%(unknown)s（可选 %(known)s）。")
                % {"unknown": ", ".join(map(str, unknown)), "known": ", ".join(VisitNeed.values)}
            }
        )
    return [n for n in VisitNeed.values if n in needs]


def _existing(visit_uuid, *, elder_id, worker) -> VisitResult | None:
    existing = Visit.objects.select_related("elder").filter(uuid=visit_uuid).first()
    if existing is None:
        return None
    if existing.elder_id != elder_id or existing.worker_id != worker.pk:
        raise ValidationError(
            {
                "uuid": _("编号 %(uuid)s 已用于另一位老人或另一名探访人员的记录。")
                % {"uuid": visit_uuid}
            }
        )
    existing.worker = worker  # the same user (checked just above): not read again
    return VisitResult(existing, created=False)


def unknown_elder_message(key) -> str:
    """The one answer for an elder a visit cannot name: unknown, outside the worker's areas or
    dead by the visit's day."""
    return _("没有编号为 %(key)s 的老年人。") % {"key": key}


def _elder_id(elder) -> int:
    """The elder's primary key, from an Elder or the key itself (as the API sends it)."""
    if isinstance(elder, Elder):
        return elder.pk
    try:
        key = int(elder)
    except (TypeError, ValueError):
        raise ValidationError(
            {"elder": _("“%(value)s”不是老年人编号。") % {"value": elder}}
        ) from None
    # A key the column cannot hold names nobody (the database would refuse to compare it).
    low, high = connection.ops.integer_field_range(Elder._meta.pk.get_internal_type())
    if not low <= key <= high:
        raise ValidationError({"elder": unknown_elder_message(key)})
    return key


def record_visit(
    *,
    uuid: uuid_module.UUID | str,
    elder: Elder | int,
    worker,
    visited_at: datetime.datetime,
    mode: str,
    outcome: str,
    needs=(),
    notes: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    now: datetime.datetime | None = None,
) -> VisitResult:
    """Store one visit, once: sending the same UUID again returns the stored visit unchanged
    (``created=False``). An outcome of "deceased" or "needs follow-up" opens a follow-up task
    for the staff of the elder's area, in the same transaction. ``elder`` is an Elder or its
    primary key; either way the elder is read once, with what the rules need."""
    try:
        visit_uuid = uuid_module.UUID(str(uuid))
    except ValueError:
        raise ValidationError(
            {"uuid": _("“%(value)s”不是有效的 UUID。") % {"value": uuid}}
        ) from None
    elder_id = _elder_id(elder)
    # The UUID is not looked up first: a new visit (nearly every request) is simply inserted,
    # and the unique constraint on the UUID answers whether it was stored before. Only when
    # the insert or a rule refuses the visit is the stored one read.
    try:
        return _create_visit(
            visit_uuid=visit_uuid,
            elder_id=elder_id,
            worker=worker,
            visited_at=visited_at,
            mode=mode,
            outcome=outcome,
            needs=needs,
            notes=notes,
            latitude=latitude,
            longitude=longitude,
            now=now,
        )
    except ValidationError:
        # A retry of a visit already stored is its duplicate even where the rules would refuse
        # it now (the worker's assignment has ended since, or a death was recorded since).
        found = _existing(visit_uuid, elder_id=elder_id, worker=worker)
        if found:
            return found
        raise
    except IntegrityError:
        # The UUID is already stored: a retry, or the same visit arriving twice at once (a
        # retry racing the first upload). The first one stored wins; this is its duplicate.
        found = _existing(visit_uuid, elder_id=elder_id, worker=worker)
        if found:
            return found
        raise


def _instance(model, values: dict):
    """A model instance as the ORM builds one from a row holding only these columns (the
    others deferred); ``from_db`` takes the values in the model's field order."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _elder_for_visit(elder_id: int, worker, on: datetime.date) -> tuple[Elder | None, bool]:
    """The elder a visit names (only what the visit needs: name, death date, and the region
    placing them, ``elder.place``) and whether the worker covers that place on the day, in one
    plain statement.

    It is asked on every visit logged, and building the ORM queries it replaces cost more CPU
    than running them. This statement is the rule of who may log a visit for whom: an
    assignment of the worker current on the day whose area's path begins the path of the
    elder's place (accounts.rules.ElderPlace: the residence, else the registration);
    ``visits.selectors.worker_areas`` lists the same assignments for today's list."""
    elders, regions, workers = Elder._meta.db_table, Region._meta.db_table, VisitWorker._meta
    day = connection.ops.adapt_datefield_value(on)
    sql = f"""
        SELECT e.id, e.name, e.death_date, e.residence_region_id, r.id, r.path, EXISTS (
            SELECT 1 FROM {workers.db_table} w JOIN {regions} a ON a.id = w.area_id
            WHERE w.user_id = %s AND w.start_date <= %s
              AND (w.end_date IS NULL OR w.end_date >= %s)
              AND substr(r.path, 1, length(a.path)) = a.path
        )
        FROM {elders} e JOIN {regions} r ON r.id = {ElderPlace.region_id_sql("e")}
        WHERE e.id = %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [worker.pk, day, day, elder_id])
        row = cursor.fetchone()
    if row is None:
        return None, False
    pk, name, death_date, residence_id, place_id, path, covered = row
    # SQLite answers a date as text; the field turns either answer into a date.
    death_date = Elder._meta.get_field("death_date").to_python(death_date)
    elder = _instance(
        Elder,
        {"id": pk, "name": name, "death_date": death_date, "residence_region_id": residence_id},
    )
    elder.place = _instance(Region, {"id": place_id, "path": path})
    return elder, bool(covered)


def _create_visit(
    *,
    visit_uuid,
    elder_id,
    worker,
    visited_at,
    mode,
    outcome,
    needs,
    notes,
    latitude,
    longitude,
    now,
) -> VisitResult:
    if visited_at is None or timezone.is_naive(visited_at):
        raise ValidationError({"visited_at": _("探访时间须带时区。")})
    now = now or timezone.now()
    if visited_at > now + CLOCK_SKEW:
        raise ValidationError(
            {"visited_at": _("探访时间 %(time)s 晚于当前时间。") % {"time": visited_at.isoformat()}}
        )
    visit_day = visited_at.astimezone(local_tz()).date()
    elder, covered = _elder_for_visit(elder_id, worker, visit_day)
    # An elder outside the worker's areas on the day, or dead by then, is answered exactly as
    # a key that names nobody: the answer must not tell whether a key is registered, whom it
    # names or when they died (a worker could otherwise walk every key in the province).
    if (
        elder is None
        or not covered
        or (
            elder.death_date is not None
            and visit_day > elder.death_date
            and outcome != VisitOutcome.DECEASED
        )
    ):
        raise ValidationError({"elder": unknown_elder_message(elder_id)})
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        raise ValidationError({missing: _("经纬度须同时填写或同时留空。")})
    visit = Visit(
        uuid=visit_uuid,
        elder=elder,
        worker=worker,
        visited_at=visited_at,
        mode=mode,
        outcome=outcome,
        needs=_normalise_needs(needs),
        notes=(notes or "").strip(),
        latitude=latitude,
        longitude=longitude,
    )
    # Every rule full_clean() would check with a query of its own is already settled here:
    # the elder was read a moment ago and the worker is the caller (the
    # foreign keys); the UUID's uniqueness is the insert's own (a UUID already stored ends in
    # the IntegrityError that ``record_visit`` turns into a duplicate); each check constraint
    # restates a field's validation (the mode and outcome choices, the coordinate ranges) or
    # the both-or-neither rule above. The fields are still validated; the database still
    # enforces every constraint. Skipping those queries keeps a visit at a few queries.
    visit.full_clean(exclude=["elder", "worker"], validate_unique=False, validate_constraints=False)
    kind = FOLLOW_UP_KINDS.get(outcome)
    if kind is None and connection.vendor == "postgresql":
        # The common case, a visit that leaves no task: the visit and its history row are one
        # statement, atomic on its own (within a caller's transaction, in a savepoint, so that
        # a duplicate UUID does not end it).
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            _insert_with_history(visit, by=worker)
        return VisitResult(visit, created=True)
    with transaction.atomic():
        _with_history_user(visit, worker).save()
        if kind:
            task = FollowUpTask(
                visit=visit, elder=elder, area=elder.place, kind=kind, resolution=""
            )
            task.full_clean()
            _with_history_user(task, worker).save()
    return VisitResult(visit, created=True)


@functools.cache
def _insert_with_history_sql() -> tuple[str, tuple, tuple]:
    """The statement that inserts a visit and, from the row inserted, its history row as
    django-simple-history writes it on a save (every field of the visit; the date, the type
    "+" for created, no reason, the user): PostgreSQL's INSERT in a WITH. Built once from the
    two models, so a field added to Visit is written by it too. Returns the SQL, the visit's
    fields in the order of its parameters, and the history fields it gives a value of its own."""
    history = Visit.history.model
    quote = connection.ops.quote_name
    fields = tuple(f for f in Visit._meta.concrete_fields if not f.primary_key)
    copied = {f.column for f in Visit._meta.concrete_fields}
    own = ("history_date", "history_change_reason", "history_type", "history_user")
    columns, values = [], []
    for f in history._meta.concrete_fields:
        if f.primary_key:
            continue  # history_id: the sequence's
        if f.column in copied:
            columns.append(quote(f.column))
            values.append(f"v.{quote(f.column)}")
        elif f.name in own:
            columns.append(quote(f.column))
            values.append("%s")
        else:
            raise ImproperlyConfigured(f"{history.__name__}.{f.name}: unknown history field")
    sql = f"""
        WITH v AS (
            INSERT INTO {quote(Visit._meta.db_table)} ({", ".join(quote(f.column) for f in fields)})
            VALUES ({", ".join("%s" for _ in fields)})
            RETURNING *
        )
        INSERT INTO {quote(history._meta.db_table)} ({", ".join(columns)})
        SELECT {", ".join(values)} FROM v
        RETURNING {quote(Visit._meta.pk.column)}
    """
    own_order = tuple(
        f.name for f in history._meta.concrete_fields if not f.primary_key and f.name in own
    )
    return sql, fields, own_order


def _insert_with_history(visit: Visit, *, by) -> None:
    """Insert ``visit`` and its history row (by ``by``) in one statement (PostgreSQL)."""
    sql, fields, own = _insert_with_history_sql()
    params = [f.get_db_prep_save(f.pre_save(visit, True), connection) for f in fields]
    history = {
        "history_date": timezone.now(),
        "history_change_reason": None,
        "history_type": "+",
        "history_user": by.pk if by is not None else None,
    }
    params += [history[name] for name in own]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        visit.pk = cursor.fetchone()[0]
    visit._state.adding = False
    visit._state.db = connection.alias


class BatchStatus:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass
class BatchItemResult:
    index: int
    uuid: str
    status: str
    visit: Visit | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def upload_visits(*, worker, items: list[dict]) -> list[BatchItemResult]:
    """Store a batch of visits recorded offline. Each item is accepted, recognised as a
    duplicate of a stored visit (same UUID: nothing changes) or rejected with its reasons, on
    its own: one bad item never holds back the others, so there is deliberately no
    transaction around the whole batch (each visit is its own)."""
    results = []
    for index, item in enumerate(items):
        try:
            outcome = record_visit(worker=worker, **item)
        except ValidationError as error:
            errors = (
                error.message_dict
                if hasattr(error, "error_dict")
                else {"non_field_errors": error.messages}
            )
            results.append(
                BatchItemResult(
                    index, str(item.get("uuid", "")), BatchStatus.REJECTED, None, errors
                )
            )
            continue
        status = BatchStatus.ACCEPTED if outcome.created else BatchStatus.DUPLICATE
        results.append(BatchItemResult(index, str(outcome.visit.uuid), status, outcome.visit))
    return results


# --- follow-up tasks and deaths -------------------------------------------------------------


@transaction.atomic
def close_follow_up(
    *, task: FollowUpTask, resolution: str, by=None, status: str = FollowUpStatus.DONE
) -> FollowUpTask:
    """Close an open task with what was done (or why it is withdrawn)."""
    require_in_scope(by, task, as_changed=False)
    task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    if task.status != FollowUpStatus.OPEN:
        raise ValidationError(
            {"status": _("任务已%(status)s。") % {"status": task.get_status_display()}}
        )
    if status == FollowUpStatus.OPEN or status not in FollowUpStatus.values:
        raise ValidationError({"status": _("请选择办结或撤销。")})
    if not (resolution or "").strip():
        raise ValidationError({"resolution": _("请填写处理结果。")})
    task.status = status
    task.resolution = resolution.strip()[:500]
    task.closed_at = timezone.now()
    task.closed_by = by
    task.full_clean()
    _with_history_user(task, by).save()
    return task


@transaction.atomic
def confirm_death(*, task: FollowUpTask, death_date: datetime.date, by=None) -> FollowUpTask:
    """Confirm a death reported by a visit: the registry records it (categories end, the bed,
    visits and allowances stop through each app's ``handle_elder_death``) and the task is done."""
    from residents.services import record_death

    require_in_scope(by, task, as_changed=False)
    task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    if task.kind != FollowUpKind.DEATH_REPORT:
        raise ValidationError({"kind": _("只有死亡报告任务可以核实死亡。")})
    if task.status != FollowUpStatus.OPEN:
        raise ValidationError(
            {"status": _("任务已%(status)s。") % {"status": task.get_status_display()}}
        )
    record_death(elder=task.elder, death_date=death_date, by=by)
    task.refresh_from_db()
    task.closed_by = by
    # Stored on the task: in the interface's default language, whoever's request confirms it.
    with override(settings.LANGUAGE_CODE):
        task.resolution = _("死亡已核实，死亡日期 %(date)s。") % {"date": death_date.isoformat()}
    if task.status == FollowUpStatus.OPEN:  # record_death ran without the visits handler
        task.status = FollowUpStatus.DONE
        task.closed_at = timezone.now()
    task.full_clean()
    _with_history_user(task, by).save()
    return task


@transaction.atomic
def handle_elder_death(*, elder: Elder, death_date: datetime.date) -> None:
    """Called by ``residents.services.record_death``. The schedule needs no change (it is
    computed from the death date: nobody is listed from the day of death); open tasks close:
    a death report is thereby confirmed, other follow-ups are withdrawn."""
    now = timezone.now()
    tasks = FollowUpTask.objects.select_for_update().filter(elder=elder, status=FollowUpStatus.OPEN)
    for task in tasks:
        if task.kind == FollowUpKind.DEATH_REPORT:
            task.status = FollowUpStatus.DONE
            task.resolution = f"死亡已登记，死亡日期 {death_date}。"
        else:
            task.status = FollowUpStatus.CANCELLED
            task.resolution = f"老年人已于 {death_date} 去世。"
        task.closed_at = now
        task.full_clean()
        task.save()


# --- health checks --------------------------------------------------------------------------


@transaction.atomic
def record_health_check(
    *, elder: Elder, checked_on: datetime.date, provider: str = "", notes: str = "", by=None
) -> HealthCheck:
    check = HealthCheck(
        elder=elder, checked_on=checked_on, provider=provider, notes=notes, recorded_by=by
    )
    # Health checks belong to where the elder lives, as the visits do; checked first, so that
    # nothing of an elder outside the scope (a death date) is told.
    require_in_scope(
        by, check, field="elder", label=_("老年人“%(name)s”的体检") % {"name": elder.name}
    )
    # Not in the future, not before birth, not after death (accounts.dates).
    check_elder_date(elder, checked_on, field="checked_on", label=_("体检日期"))
    if HealthCheck.objects.filter(elder=elder, checked_on=checked_on).exists():
        raise ValidationError(
            {
                "checked_on": _("%(name)s在 %(date)s 已有体检记录。")
                % {"name": elder.name, "date": checked_on}
            }
        )
    check.full_clean()
    _with_history_user(check, by).save()
    return check
