"""Hardening: production settings pass ``check --deploy`` with no warning, and bad input gets a
400 that names the field."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_the_deploy_check_with_no_warning():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(50)
        ),
        "ALLOWED_HOSTS": "x.example",
        "PAYEE_ACCOUNT_KEYS": "cHJvZHVjdGlvbi1jaGVjay1rZXktMzItYnl0ZXMtb2s=",
        # Production requires Redis (the shared cache); the check does not connect to it.
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.fixture
def root_client(client, zhejiang):
    client.force_login(User.objects.create_superuser(username="root", password="x"))
    return client


@pytest.mark.parametrize(
    ("method", "url", "data", "field"),
    [
        (
            "post",
            "/api/residents/elders/",
            {"id_number": "330106194001011234", "name": "x", "hukou_region": "330106"},
            "id_number",
        ),
        (
            "post",
            "/api/residents/elders/",
            {"id_number": "33010619400101001X", "name": "x", "hukou_region": "999999"},
            "hukou_region",
        ),
        ("get", "/api/residents/elders/", {"category": "no-such-category"}, "category"),
        ("get", "/api/residents/elders/assessments-due/", {"on": "2025-13-01"}, "on"),
        # Found by the schema fuzzing: a key the column cannot hold reached the database.
        ("get", "/api/residents/assessments/", {"elder": "-1.7976931348623157e+308"}, "elder"),
        ("get", "/api/residents/assessments/", {"elder": str(2**63)}, "elder"),
        (
            "get",
            "/api/regions/policy/resolve/",
            {"key": "no_such_key", "region": "330106", "date": "2025-01-01"},
            "key",
        ),
        (
            "get",
            "/api/regions/policy/resolve/",
            {"key": "no_such_key", "region": "330106", "date": "yesterday"},
            "date",
        ),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(root_client, method, url, data, field):
    response = getattr(root_client, method)(url, data)
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    "label",
    [
        "residents.Elder",
        "residents.ElderCategory",
        "facilities.Stay",
        "regions.PolicyValue",
        "subsidies.PaymentBatch",
    ],
)
def test_records_with_audit_value_keep_their_history(label):
    from django.apps import apps

    model = apps.get_model(label)
    assert hasattr(model, "history"), f"{label} has no django-simple-history"
