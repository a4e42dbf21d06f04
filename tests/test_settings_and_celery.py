"""The settings read from the environment, and Celery in both its modes."""

import pytest
from django.conf import settings
from django.db import connection

from config.celery_app import app, ping


def test_language_time_zone_and_aware_times():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert ("en", "English") in settings.LANGUAGES
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ


@pytest.mark.django_db
def test_the_configured_database_answers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_without_redis_tasks_run_eagerly_in_process(settings):
    if settings.REDIS_URL:
        assert app.conf.task_always_eager is False
    else:
        assert app.conf.task_always_eager is True
        assert ping.delay().get(timeout=1) == "pong"


@pytest.mark.celery_worker
def test_a_real_worker_answers(celery_worker):
    assert ping.apply_async(queue=celery_worker).get(timeout=30) == "pong"


@pytest.mark.postgres
def test_postgres_leg_uses_postgres():
    assert connection.vendor == "postgresql"
