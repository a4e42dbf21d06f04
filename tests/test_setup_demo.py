"""`python3 dev.py start` runs setup_demo on every start: twice must duplicate nothing."""

import io

from django.apps import apps
from django.core.management import call_command


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label
        in {"regions", "accounts", "residents", "facilities", "visits", "subsidies", "auth"}
    }


def test_setup_demo_twice_duplicates_nothing(zhejiang):
    out = io.StringIO()
    call_command("setup_demo", stdout=out)
    first = row_counts()
    call_command("setup_demo", stdout=io.StringIO())
    assert row_counts() == first
    assert "bureau" in out.getvalue() and "demo-pass-2024" in out.getvalue()
    from django.contrib.auth.models import User

    logins = {"admin", "bureau", "institution", "street", "finance", "auditor"}
    assert logins <= set(User.objects.values_list("username", flat=True))
