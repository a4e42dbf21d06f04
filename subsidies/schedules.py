"""When things are paid: each region's monthly allowance run (a django-celery-beat
PeriodicTask per region), and the month of the year a yearly item is due."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from regions.models import Region

SCHEDULED_RUN_TASK = "subsidies.scheduled_allowance_run"


@transaction.atomic
def schedule_monthly_run(*, region: Region, day: int, hour: int = 2, enabled: bool = True):
    """Create or update the django-celery-beat PeriodicTask that runs ``region``'s monthly
    allowance run on ``day`` of every month at ``hour`` (Asia/Shanghai). The day can then be
    changed in the admin (定时任务 → 周期任务), where the task appears under its name."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if not 1 <= int(day) <= 28:
        # Every month has a 28th: a later day would skip February.
        raise ValidationError({"day": gettext("发放日 %(day)s 应在1至28之间。") % {"day": day}})
    if not 0 <= int(hour) <= 23:
        raise ValidationError({"hour": gettext("时刻 %(hour)s 应在0至23之间。") % {"hour": hour}})
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour=str(hour),
        day_of_month=str(day),
        month_of_year="*",
        day_of_week="*",
        timezone="Asia/Shanghai",
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"津贴月度发放 {region.code} {region.name}",
        defaults={
            "task": SCHEDULED_RUN_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([region.code]),
            "enabled": enabled,
        },
    )
    return task


def yearly_item_due(
    period: datetime.date, payment_month: int, in_force_on: Callable[[datetime.date], bool]
) -> bool:
    """Whether a yearly item is paid in the month ``period`` (its 1st). docs/policy.md §1
    (Yearly items): once for every calendar year it is in force — in the payment month to those
    eligible on its 1st, or, in the year it comes into force after the payment month, in the
    first month it is in force (on whose 1st it is in force: the run reads the 1st). Xihu's
    items, in force from 2024-01-30 with January as the payment month, are due in February 2024.

    ``in_force_on(day)`` says whether the item has an amount in force on ``day``."""
    if not in_force_on(period):
        return False
    if period.month == payment_month:
        return True
    if period.month < payment_month:
        return False
    # After the payment month: due only in the first month of the year it is in force.
    return not any(
        in_force_on(datetime.date(period.year, month, 1))
        for month in range(payment_month, period.month)
    )
