"""The audit trail reads as a person reads it: objects by kind and name (with a link), users by
name, Beijing time on the list, the detail and the export; it is filtered by user, exported
for Excel (BOM, no formulas), and holds approvals, policy changes and role grants beside the
looks at personal data and the exports."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry
from accounts.services import record_audit
from regions.models import PolicyValue
from regions.services import revise_policy_value
from subsidies.batches import approve_batch
from subsidies.models import PaymentBatch
from tests.accounts.test_masking_cannot_be_undone import make_user, region

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:accounts_auditentry_changelist"


@pytest.fixture
def trail(world):
    street = make_user("street", world)
    elder = world["people"]["never_assessed"]
    looked = record_audit(
        user=street,
        action=AuditAction.VIEW_ID_NUMBER,
        object_type="residents.elder",
        object_id=elder.pk,
        reason='=HYPERLINK("x")',
    )
    return {"street": street, "elder": elder, "looked": looked}


def test_the_list_names_objects_and_users_and_shows_beijing_time(world, trail, client):
    client.force_login(make_user("auditor", world))
    page = client.get(reverse(CHANGELIST)).content.decode()
    elder = trail["elder"]
    assert f"老年人：{elder.name}" in page
    assert reverse("admin:residents_elder_change", args=[elder.pk]) in page
    results = page.split('id="result_list"')[1].split("</table>")[0]
    assert "residents.elder" not in results
    local = timezone.localtime(trail["looked"].at).strftime("%Y-%m-%d %H:%M:%S")
    assert local in page
    detail = client.get(
        reverse("admin:accounts_auditentry_change", args=[trail["looked"].pk])
    ).content.decode()
    assert local in detail and f"老年人：{elder.name}" in detail


def test_the_list_is_filtered_by_user(world, trail, client):
    bureau = make_user("bureau", world)
    record_audit(user=bureau, action=AuditAction.EXPORT, object_type="subsidies.paymentbatch")
    client.force_login(make_user("auditor", world))
    response = client.get(reverse(CHANGELIST), {"user": trail["street"].pk})
    shown = list(response.context["cl"].result_list)
    assert shown and {e.user_id for e in shown} == {trail["street"].pk}
    assert "street" in response.content.decode()  # the filter offers users by name


def test_the_export_is_the_filtered_list_for_excel_and_is_itself_recorded(world, trail, client):
    auditor = make_user("auditor", world)
    client.force_login(auditor)
    response = client.get(reverse("admin:accounts_auditentry_export"), {"user": trail["street"].pk})
    assert response.status_code == 200
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0][:3] == ["时间（北京时间）", "用户", "操作"]
    assert len(rows) == 2
    row = rows[1]
    assert row[0] == timezone.localtime(trail["looked"].at).strftime("%Y-%m-%d %H:%M:%S")
    assert row[2] == "查看完整身份证号" and row[3] == f"老年人：{trail['elder']}"
    assert row[6] == '\'=HYPERLINK("x")'  # never a formula in the auditor's spreadsheet
    assert AuditEntry.objects.filter(user=auditor, action=AuditAction.EXPORT).exists()


def test_others_cannot_read_or_export_the_trail(world, trail, client):
    client.force_login(make_user("finance", world))
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse("admin:accounts_auditentry_export")).status_code == 403


def test_an_approval_is_in_the_trail(world):
    finance = make_user("finance", world)
    batch = PaymentBatch.objects.filter(region__code="330106").first()
    approve_batch(batch=batch, by=finance)
    entry = AuditEntry.objects.get(action=AuditAction.APPROVE_BATCH)
    assert (entry.user, entry.object_type, entry.object_id) == (
        finance,
        "subsidies.paymentbatch",
        str(batch.pk),
    )


def test_a_policy_change_is_in_the_trail_with_its_reason(world):
    bureau = make_user("bureau", world)
    row = PolicyValue.objects.get(region__code="330106", key="high_age_allowance_90_99")
    revision = revise_policy_value(
        row=row,
        applies_from=timezone.localdate() + datetime.timedelta(days=40),
        value=row.value + Decimal("10"),
        reason="区政府常务会议决定",
        by=bureau,
    )
    entries = AuditEntry.objects.filter(action=AuditAction.POLICY_CHANGE, user=bureau)
    assert str(revision.new.pk) in {e.object_id for e in entries}
    assert all(e.reason.startswith("区政府常务会议决定") for e in entries)


def test_a_role_granted_in_the_admin_is_in_the_trail(world, admin_client):
    newcomer = make_user("finance", world)
    response = admin_client.post(
        reverse("admin:accounts_roleassignment_add"),
        {"user": newcomer.pk, "role": Role.AUDITOR, "region": region("330106").pk},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGE)
    assert entry.object_type == "auth.user" and entry.object_id == str(newcomer.pk)
    assert entry.details["role"] == "审计人员"


def test_a_whole_account_number_shown_is_named_in_the_trail_in_either_language(world, client):
    from django.utils import translation

    from subsidies.admin_payees import VIEW_ACCOUNT_NUMBER

    assert VIEW_ACCOUNT_NUMBER == AuditAction.VIEW_ACCOUNT_NUMBER
    record_audit(
        user=make_user("finance", world),
        action=VIEW_ACCOUNT_NUMBER,
        object_type="subsidies.payeeaccount",
        object_id="1",
        reason="核对银行退回",
    )
    client.force_login(make_user("auditor", world))
    page = client.get(reverse(CHANGELIST)).content.decode()
    results = page.split('id="result_list"')[1].split("</table>")[0]
    assert "查看完整收款账号" in results and "view_account_number" not in results
    with translation.override("en"):
        assert str(AuditAction.VIEW_ACCOUNT_NUMBER.label) == "Viewed full payee account number"
    # Every act the trail records reads as words, never as its code.
    assert all(label != value for value, label in AuditAction.choices)
