"""When each region's monthly allowance run starts: a django-celery-beat PeriodicTask per region."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction

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
        raise ValidationError({"day": f"发放日 {day} 应在1至28之间。"})
    if not 0 <= int(hour) <= 23:
        raise ValidationError({"hour": f"时刻 {hour} 应在0至23之间。"})
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
