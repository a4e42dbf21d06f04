import json

from django.db import migrations
from django.utils import timezone

SWEEP_NAME = "名册导入巡检"
SWEEP_TASK = "residents.requeue_stalled_import_jobs"


def schedule_sweep(apps, schema_editor):
    """Every minute, for the beat's DatabaseScheduler (an existing entry, perhaps retuned in
    the admin, is left as it is)."""
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=SWEEP_NAME).exists():
        return
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.create(
        name=SWEEP_NAME,
        task=SWEEP_TASK,
        interval=every_minute,
        args=json.dumps([]),
        description="重新排队等待已久却没有任务处理的名册导入（residents.tasks）。",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("residents", "0003_importjob"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
