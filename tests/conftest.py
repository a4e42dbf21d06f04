"""Suite-wide fixtures.

The suite runs twice in CI: on SQLite (the embedded default) and on PostgreSQL with
REDIS_URL set, where tests marked ``celery_worker`` run against a real worker process that the
session starts and stops, and tests marked ``redis`` use that Redis server directly. Tests marked
``postgres``, ``celery_worker`` or ``redis`` are deselected (not skipped) where their service is
absent, and the run says how many and why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


E2E_DIR = ROOT / "tests" / "e2e"


def pytest_ignore_collect(collection_path, config):
    """The browser tests are a pytest process of their own (see tests/e2e/conftest.py): a run
    collects them only when it names tests/e2e or something inside it."""
    if collection_path != E2E_DIR:
        return None
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if any(path == E2E_DIR or E2E_DIR in path.parents for path in named):
        return None
    return True


def pytest_collection_modifyitems(config, items):
    needs = {
        "postgres": (_on_postgres(), "PostgreSQL (DATABASE_URL=postgres://…)"),
        "celery_worker": (
            _on_postgres() and bool(settings.REDIS_URL),
            "PostgreSQL and REDIS_URL for a real Celery worker",
        ),
        "redis": (bool(settings.REDIS_URL), "a Redis server (REDIS_URL=redis://…)"),
    }
    kept, dropped = [], {}
    for item in items:
        missing = [
            why for mark, (ok, why) in needs.items() if item.get_closest_marker(mark) and not ok
        ]
        if missing:
            dropped.setdefault(missing[0], []).append(item)
        else:
            kept.append(item)
    if dropped:
        for why, group in dropped.items():
            config.hook.pytest_deselected(items=group)
            print(
                f"\n[deselected {len(group)} test(s) that need {why}; they run in the PostgreSQL leg]"
            )
        items[:] = kept


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery worker` subprocess bound to the test database, for the session."""
    env = dict(os.environ)
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    queue = f"test-{os.getpid()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
            "--pool=prefork",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )
    from config.celery_app import app

    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if app.send_task("config.ping", queue=queue).get(timeout=5) == "pong":
                    break
            except Exception:  # the worker is still booting: retry until the deadline
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Celery worker did not start") from None
        yield queue
    finally:
        app.conf.task_default_queue = previous_queue
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def celery_worker(celery_worker_process, transactional_db):
    """Use in tests that enqueue work: data must be committed for the worker to see it."""
    return celery_worker_process


@pytest.fixture
def tasks_in_process():
    """Celery tasks run in the test's process, as on the embedded setup without Redis: the
    PostgreSQL leg sets REDIS_URL, where a queued task would wait for a worker."""
    from config.celery_app import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def _load_reference_data() -> None:
    from django.core.management import call_command

    from regions.models import EligibilityRule, PolicyValue, Region

    with open(os.devnull, "w") as quiet:
        if not Region.objects.exists():
            call_command("load_regions", stdout=quiet)
        if not PolicyValue.objects.exists():
            call_command("load_policies", stdout=quiet)
        if not EligibilityRule.objects.exists():
            call_command("load_eligibility", stdout=quiet)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the administrative tree, the rulebook and the rules of who each policy is for
    once into the test database; each test's transaction rolls back on top of them."""
    with django_db_blocker.unblock():
        _load_reference_data()


@pytest.fixture
def zhejiang(db):
    """The administrative tree (province, cities, counties, Xihu's streets and communities)."""
    from regions.models import Region

    _load_reference_data()  # again only after a transactional test flushed the tables
    return Region.objects.get(code="330000")


@pytest.fixture
def rulebook(zhejiang):
    """The five seeds' policy values, as `load_policies` loads them."""
