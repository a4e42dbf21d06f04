"""Celery beat runs each region's monthly run on a day set in the admin."""

import datetime
import json
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask

from regions.models import Region
from subsidies import tasks
from subsidies.models import AllowanceRun
from subsidies.schedules import schedule_monthly_run

pytestmark = pytest.mark.django_db


def test_scheduled_run_queues_the_current_month_for_the_region(
    rulebook, django_capture_on_commit_callbacks
):
    with (
        mock.patch("subsidies.tasks.timezone.localdate", return_value=datetime.date(2024, 5, 3)),
        mock.patch("subsidies.tasks.prepare_allowance_run.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_id = tasks.scheduled_allowance_run("330106")
    run = AllowanceRun.objects.get(pk=run_id)
    assert (run.region.code, run.period, run.status) == (
        "330106",
        datetime.date(2024, 5, 1),
        "pending",
    )
    delay.assert_called_once_with(run_id)


def test_schedule_monthly_run_creates_then_moves_the_periodic_task(rulebook):
    xihu = Region.objects.get(code="330106")
    task = schedule_monthly_run(region=xihu, day=5)
    assert task.task == "subsidies.scheduled_allowance_run"
    assert json.loads(task.args) == ["330106"]
    assert (task.crontab.day_of_month, task.crontab.hour) == ("5", "2")
    assert str(task.crontab.timezone) == "Asia/Shanghai"
    moved = schedule_monthly_run(region=xihu, day=10, hour=1)
    assert moved.pk == task.pk and PeriodicTask.objects.filter(task=task.task).count() == 1
    assert moved.crontab.day_of_month == "10"


@pytest.mark.parametrize(("day", "hour", "field"), [(29, 2, "day"), (0, 2, "day"), (5, 24, "hour")])
def test_schedule_refuses_a_day_not_in_every_month(rulebook, day, hour, field):
    with pytest.raises(ValidationError) as error:
        schedule_monthly_run(region=Region.objects.get(code="330106"), day=day, hour=hour)
    assert field in error.value.message_dict
