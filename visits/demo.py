"""Demonstration visits: a worker per Xihu street (``street`` covers 翠苑街道) and a few weeks of
believable visits to the elders who must be visited, with the follow-up tasks they open and
this year's free health checks. Fixed random seed; skipped when already loaded; bulk inserts.
"""

from __future__ import annotations

import datetime
import random
import uuid

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from accounts.choices import Role
from accounts.demo_accounts import DEMO_PASSWORD
from accounts.models import RoleAssignment
from regions.choices import RegionLevel
from regions.models import Region
from visits.choices import FollowUpKind, VisitFrequency, VisitMode, VisitNeed, VisitOutcome
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker
from visits.selectors import ScheduleBook, day_start, local_tz
from visits.services import FOLLOW_UP_KINDS

SEED = 20240130
XIHU = "330106"
STREET_USER = "street"  # the demo login of accounts.demo_accounts, 翠苑街道
CUIYUAN = "330106004"
DAILY_DAYS = 21  # three weeks of daily visits
# Stable UUIDs: the same demo visit has the same UUID on every machine.
NAMESPACE = uuid.UUID("5b1f6f0e-3d0c-4c1e-9a57-0c7d2b3f9e11")

OUTCOMES = [
    (VisitOutcome.SEEN_WELL, 0.90),
    (VisitOutcome.NOT_AT_HOME, 0.04),
    (VisitOutcome.NEEDS_FOLLOW_UP, 0.03),
    (VisitOutcome.IN_HOSPITAL, 0.03),
]


def _workers(streets: list[Region]) -> dict[str, User]:
    """One worker per street: ``street`` for 翠苑街道, ``visitor<nnn>`` for the others."""
    password = make_password(DEMO_PASSWORD)  # hashed once for all demo workers
    workers = {}
    for street in streets:
        username = STREET_USER if street.code == CUIYUAN else f"visitor{street.code[-3:]}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"password": password, "first_name": f"{street.name}探访员"}
        )
        RoleAssignment.objects.get_or_create(user=user, role=Role.STREET_WORKER, region=street)
        workers[street.code] = user
    return workers


def _assign(workers: dict[str, User], streets: dict[str, Region], start: datetime.date) -> int:
    existing = set(
        VisitWorker.objects.filter(end_date__isnull=True).values_list("user_id", "area_id")
    )
    new = [
        VisitWorker(user=user, area=streets[code], start_date=start, note="演示数据")
        for code, user in workers.items()
        if (user.pk, streets[code].pk) not in existing
    ]
    bulk_create_with_history(new, VisitWorker)
    return len(new)


def _at(rng: random.Random, day: datetime.date) -> datetime.datetime:
    minutes = rng.randint(8 * 60 + 30, 17 * 60 + 30)
    return day_start(day) + datetime.timedelta(minutes=minutes)


@transaction.atomic
def load_demo(*, stdout) -> None:
    xihu = Region.objects.filter(code=XIHU).first()
    if xihu is None:
        stdout.write("visits demo: no Xihu region, skipped")
        return
    streets = {
        r.code: r
        for r in Region.objects.filter(path__startswith=xihu.path, level=RegionLevel.STREET)
    }
    workers = _workers(list(streets.values()))
    today = datetime.datetime.now(local_tz()).date()
    month_start = today.replace(day=1)
    previous_month_start = (month_start - datetime.timedelta(days=1)).replace(day=1)
    assigned = _assign(workers, streets, previous_month_start)
    if Visit.objects.filter(worker__in=workers.values()).exists():
        stdout.write(f"visits demo: already loaded ({assigned} new assignments)")
        return

    rng = random.Random(SEED)
    start = min(previous_month_start, today - datetime.timedelta(days=DAILY_DAYS))
    book = ScheduleBook(areas=[xihu], start=start, end=today)
    visits: list[Visit] = []

    def add(elder_id: int, day: datetime.date, street_code: str) -> None:
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        needs = []
        if outcome == VisitOutcome.NEEDS_FOLLOW_UP:
            needs = [rng.choice([VisitNeed.MEALS, VisitNeed.MEDICAL, VisitNeed.CLEANING])]
        visits.append(
            Visit(
                uuid=uuid.uuid5(NAMESPACE, f"{elder_id}/{day.isoformat()}"),
                elder_id=elder_id,
                worker=workers[street_code],
                visited_at=_at(rng, day),
                mode=rng.choices([VisitMode.HOME, VisitMode.PHONE, VisitMode.VIDEO], [75, 20, 5])[
                    0
                ],
                outcome=outcome,
                needs=needs,
                notes="",
            )
        )

    def street_of(elder) -> str | None:
        codes = [c for c in elder.region.path.split("/") if c]
        return next((c for c in codes if c in workers), None)

    planned: dict[tuple[int, datetime.date], datetime.date | None] = {}
    for day in [start + datetime.timedelta(days=n) for n in range((today - start).days + 1)]:
        for elder_id, schedule in book.on(day).items():
            street = street_of(book.elders[elder_id])
            if street is None:
                continue
            if schedule.frequency == VisitFrequency.DAILY:
                if day > today - datetime.timedelta(days=DAILY_DAYS) and rng.random() < 0.95:
                    add(elder_id, day, street)
                continue
            # Each elder's monthly visit falls on a day of the month picked when the month
            # starts for them; a few are missed, and the current month is still running.
            month = day.replace(day=1)
            if (elder_id, month) not in planned:
                month_end = (month + datetime.timedelta(days=32)).replace(day=1)
                span = (month_end - day).days
                planned[(elder_id, month)] = (
                    day + datetime.timedelta(days=rng.randrange(span))
                    if rng.random() < 0.94
                    else None
                )
            if planned[(elder_id, month)] == day:
                add(elder_id, day, street)
    bulk_create_with_history(visits, Visit, batch_size=1000)

    stored = {v.uuid: v for v in Visit.objects.filter(uuid__in=[v.uuid for v in visits])}
    tasks = [
        FollowUpTask(
            visit=stored[v.uuid],
            elder_id=v.elder_id,
            area=book.elders[v.elder_id].region,
            kind=FOLLOW_UP_KINDS[v.outcome],
        )
        for v in visits
        if v.outcome in FOLLOW_UP_KINDS
    ]
    bulk_create_with_history(tasks, FollowUpTask)

    # This year's free health checks (西政办〔2023〕46号 §12): about two in three so far.
    owed = book.on(today)
    year_start = today.replace(month=1, day=1)
    checks = [
        HealthCheck(
            elder_id=elder_id,
            checked_on=year_start
            + datetime.timedelta(days=rng.randrange((today - year_start).days + 1)),
            provider="西湖区社区卫生服务中心",
        )
        for elder_id in sorted(owed)
        if rng.random() < 0.65
    ]
    bulk_create_with_history(checks, HealthCheck)
    daily = sum(s.frequency == VisitFrequency.DAILY for s in owed.values())
    stdout.write(
        f"visits demo: {len(workers)} workers ({assigned} assignments), {len(owed)} elders to "
        f"visit today ({daily} daily), {len(visits)} visits, "
        f"{sum(t.kind == FollowUpKind.NEEDS for t in tasks)} follow-up tasks, "
        f"{len(checks)} health checks"
    )
