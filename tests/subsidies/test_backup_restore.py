"""Disaster: the database is lost. A `pg_dump` of a loaded database (custom format, as the
README says), restored into a fresh database with `createdb` and `pg_restore`, gives the same
batch totals — count and sum per batch, and its state — read by the application itself on the
restored database. The PostgreSQL client tools are required: without them this test fails."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User

from accounts.services import assign_role
from regions.models import Region
from subsidies.batches import approve_batch
from subsidies.choices import BatchState
from subsidies.models import PaymentBatch
from subsidies.run.planning import request_allowance_run
from subsidies.selectors import batch_grand_total
from tests.subsidies.test_worker import make_population

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent.parent
MAY = datetime.date(2024, 5, 1)
TOOLS = ("pg_dump", "pg_restore", "createdb", "dropdb")

# Run by the application on the restored database: every batch with its totals.
READ_TOTALS = """
import json
from subsidies.models import PaymentBatch
from subsidies.selectors import batch_grand_total
totals = {}
for batch in PaymentBatch.objects.order_by("pk"):
    count, amount = batch_grand_total(batch)
    totals[str(batch.pk)] = [count, str(amount), batch.state, batch.approved_by_id]
print(json.dumps(totals))
"""


def _client_env() -> tuple[dict, list[str]]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    connection = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
    return env, [*connection, "-U", db["USER"] or "postgres"]


def _run(command: list[str], env: dict) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr}"
    return done.stdout


def _totals() -> dict:
    totals = {}
    for batch in PaymentBatch.objects.order_by("pk"):
        count, amount = batch_grand_total(batch)
        totals[str(batch.pk)] = [count, str(amount), batch.state, batch.approved_by_id]
    return totals


def test_a_dump_restored_into_a_fresh_database_gives_the_same_batch_totals(
    transactional_db, make_elder, tmp_path
):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"PostgreSQL client tools not on PATH: {', '.join(missing)}"

    # A loaded database: Xihu's May run with its batch approved, Yuhang's still a draft.
    make_population(make_elder)
    make_elder(datetime.date(1929, 1, 1), "330110", pension="resident")
    xihu = request_allowance_run(region=Region.objects.get(code="330106"), period=MAY, sync=True)
    request_allowance_run(region=Region.objects.get(code="330110"), period=MAY, sync=True)
    cashier = User.objects.create_user("cashier", password="pw-123456!", is_staff=True)
    cashier.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    assign_role(user=cashier, role="finance", region=Region.objects.get(code="330106"))
    approve_batch(batch=xihu.batch, by=User.objects.get(pk=cashier.pk))
    before = _totals()
    assert len(before) == 2 and before[str(xihu.batch_id)][2] == BatchState.APPROVED
    assert all(count > 0 for count, *_ in before.values())

    env, connection = _client_env()
    source = settings.DATABASES["default"]["NAME"]
    restored = f"{source}_restored_{os.getpid()}"
    dump = tmp_path / "eldercare.dump"
    _run(["pg_dump", *connection, "--format=custom", f"--file={dump}", source], env)
    _run(["dropdb", *connection, "--if-exists", restored], env)
    _run(["createdb", *connection, "--template=template0", restored], env)
    try:
        _run(
            ["pg_restore", *connection, "--no-owner", "--exit-on-error", f"--dbname={restored}"]
            + [str(dump)],
            env,
        )
        db = settings.DATABASES["default"]
        app_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{restored}",
        }
        output = _run([sys.executable, "manage.py", "shell", "-v", "0", "-c", READ_TOTALS], app_env)
        after = json.loads(output.strip().splitlines()[-1])
    finally:
        _run(["dropdb", *connection, "--if-exists", restored], env)
    assert after == before
