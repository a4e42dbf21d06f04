"""The database is the rulebook's master after the first load, and a change to a rule in force
starts a new version from a date, with a reason, instead of rewriting the past."""

import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command

from accounts.audit_trail import actor_label, attach_objects, export_rows
from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry
from accounts.services import assign_role
from regions.models import PolicyValue, Region
from regions.rulebook import RULEBOOK
from regions.selectors import policy_value
from regions.services import PolicyChangeRefused, plan_policy_revision, revise_policy_value

D = datetime.date
TODAY = D(2026, 11, 30)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def xihu_90(rulebook):
    return PolicyValue.objects.get(region__code="330106", key="high_age_allowance_90_99")


@pytest.fixture
def bureau(zhejiang):
    user = get_user_model().objects.create_user("xihu-bureau", password="x")
    assign_role(user=user, role=Role.BUREAU, region=Region.objects.get(code="330106"))
    return user


def test_loading_the_file_again_never_overwrites_a_bureau_edit(xihu_90, bureau):
    revise_policy_value(
        row=xihu_90,
        applies_from=xihu_90.effective_from,
        value=Decimal("110"),
        reason="区政府常务会议决定",
        by=bureau,
        today=TODAY,
    )
    out = run("load_policies")
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("110")
    assert "differing 1" in out
    line = next(line for line in out.splitlines() if line.startswith("high_age_allowance_90_99"))
    assert "330106" in line and "file: 100" in line and "database: 110" in line
    assert "xihu-bureau" in line


def test_adopting_the_file_is_deliberate_and_recorded(xihu_90, bureau):
    revise_policy_value(
        row=xihu_90,
        applies_from=xihu_90.effective_from,
        value=Decimal("110"),
        reason="试行",
        by=bureau,
        today=TODAY,
    )
    out = run("load_policies", "--adopt", "high_age_allowance_90_99", "--region", "330106")
    assert "adopted from the file: 1 row(s)" in out
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100")
    assert "--adopt" in xihu_90.history.first().history_change_reason
    # The trail names the command that made the change, not only the row's history.
    entry = (
        AuditEntry.objects.filter(
            action=AuditAction.POLICY_CHANGE, object_id=str(xihu_90.pk), user=None
        )
        .order_by("pk")
        .last()
    )
    assert entry.command == "load_policies" and "--adopt" in entry.reason
    assert entry.details == {"region": "西湖区", "key": "high_age_allowance_90_99"}
    attach_objects([entry])
    assert actor_label(entry) == "系统（命令 load_policies）"
    assert export_rows([entry]).__next__() and list(export_rows([entry]))[1][1] == (
        "系统（命令 load_policies）"
    )


def test_every_row_a_load_writes_is_in_the_trail_as_the_commands(zhejiang):
    PolicyValue.objects.all().delete()
    AuditEntry.objects.filter(command="load_policies").delete()
    run("load_policies")
    loaded = AuditEntry.objects.filter(action=AuditAction.POLICY_CHANGE, command="load_policies")
    assert set(loaded.values_list("object_id", flat=True)) == {
        str(pk) for pk in PolicyValue.objects.values_list("pk", flat=True)
    }
    assert {(e.user, e.reason) for e in loaded} == {(None, "规则文件载入")}
    # A second load writes nothing, and records nothing.
    count = AuditEntry.objects.count()
    run("load_policies")
    assert AuditEntry.objects.count() == count


def test_a_new_version_in_the_file_is_one_row_and_ends_the_one_before(xihu_90, tmp_path):
    """Raising Xihu's 90–99 allowance from 2026-01-01 is one new [[value]] in the file."""
    rulebook = tmp_path / "rulebook.toml"
    rulebook.write_text(
        RULEBOOK.read_text(encoding="utf-8")
        + '\n[[value]]\nregion = "330106"\nkey = "high_age_allowance_90_99"\nvalue = "120"\n'
        'from = "2026-01-01"\ncitation = "a later Xihu document"\n',
        encoding="utf-8",
    )
    out = run("load_policies", "--file", str(rulebook))
    assert "created 1" in out and "differing 0" in out
    xihu = Region.objects.get(code="330106")
    assert policy_value("high_age_allowance_90_99", xihu, D(2025, 12, 31)) == Decimal("100")
    assert policy_value("high_age_allowance_90_99", xihu, D(2026, 1, 1)) == Decimal("120")
    xihu_90.refresh_from_db()
    assert xihu_90.effective_to == D(2025, 12, 31)
    ended = AuditEntry.objects.filter(object_id=str(xihu_90.pk), command="load_policies")
    assert ended.order_by("pk").last().reason == "规则文件新增 2026-01-01 起的版本"
    assert "created 0" in run("load_policies", "--file", str(rulebook))


def test_a_file_version_never_cuts_short_a_version_the_bureau_set(xihu_90, bureau, tmp_path):
    revise_policy_value(
        row=xihu_90,
        applies_from=D(2025, 6, 1),
        value=Decimal("130"),
        reason="提标",
        by=bureau,
        today=TODAY,
    )
    rulebook = tmp_path / "rulebook.toml"
    rulebook.write_text(
        RULEBOOK.read_text(encoding="utf-8")
        + '\n[[value]]\nregion = "330106"\nkey = "high_age_allowance_90_99"\nvalue = "120"\n'
        'from = "2026-01-01"\ncitation = "a later Xihu document"\n',
        encoding="utf-8",
    )
    out = run("load_policies", "--file", str(rulebook))
    assert "created 0" in out and "not inserted" in out
    xihu = Region.objects.get(code="330106")
    assert policy_value("high_age_allowance_90_99", xihu, D(2026, 3, 1)) == Decimal("130")


def test_changing_a_value_in_force_starts_a_new_version_from_a_date(xihu_90, bureau):
    revision = revise_policy_value(
        row=xihu_90,
        applies_from=D(2026, 1, 1),
        value=Decimal("120"),
        reason="区政府提标",
        by=bureau,
        today=TODAY,
    )
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100")
    assert xihu_90.effective_to == D(2025, 12, 31)
    new = revision.new
    assert (new.value, new.effective_from, new.effective_to) == (
        Decimal("120"),
        D(2026, 1, 1),
        None,
    )
    assert new.citation == xihu_90.citation
    record = new.history.first()
    assert record.history_user == bureau and record.history_change_reason == "区政府提标"
    ended = xihu_90.history.first()
    assert ended.history_user == bureau and "区政府提标" in ended.history_change_reason


def test_a_change_needs_a_reason_and_a_date_inside_the_version(xihu_90, bureau):
    with pytest.raises(ValidationError) as no_reason:
        revise_policy_value(
            row=xihu_90, applies_from=D(2026, 1, 1), value=Decimal("120"), reason=" ", by=bureau
        )
    assert "reason" in no_reason.value.message_dict
    with pytest.raises(ValidationError) as no_date:
        revise_policy_value(
            row=xihu_90, applies_from=None, value=Decimal("120"), reason="x", by=bureau
        )
    assert "applies_from" in no_date.value.message_dict
    with pytest.raises(ValidationError) as before_start:
        revise_policy_value(
            row=xihu_90, applies_from=D(2020, 1, 1), value=Decimal("120"), reason="x", by=bureau
        )
    assert "2024-01-30" in before_start.value.message_dict["applies_from"][0]
    with pytest.raises(ValidationError) as far_ahead:
        revise_policy_value(
            row=xihu_90,
            applies_from=D(2206, 1, 1),
            value=Decimal("120"),
            reason="x",
            by=bureau,
            today=TODAY,
        )
    assert "请核对年份" in far_ahead.value.message_dict["applies_from"][0]
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100") and xihu_90.effective_to is None


def test_a_negative_value_names_the_field_not_a_constraint(xihu_90, bureau):
    with pytest.raises(ValidationError) as refused:
        plan_policy_revision(
            row=xihu_90, applies_from=D(2026, 1, 1), changes={"value": Decimal("-5")}, today=TODAY
        )
    messages = refused.value.message_dict
    assert "value" in messages and "负数" in " ".join(messages["value"])
    assert "policy_value_not_negative" not in str(refused.value)


def test_a_new_version_below_the_province_floor_names_both_values(xihu_90, bureau):
    with pytest.raises(ValidationError) as refused:
        revise_policy_value(
            row=xihu_90, applies_from=D(2026, 1, 1), value=Decimal("50"), reason="x", by=bureau
        )
    message = " ".join(refused.value.messages)
    assert "50" in message and "60" in message and "浙政办发〔2022〕71号" in message
    xihu_90.refresh_from_db()
    assert xihu_90.effective_to is None  # nothing half-written


def test_only_a_bureau_covering_the_region_changes_its_rules(xihu_90, zhejiang):
    User = get_user_model()
    outsider = User.objects.create_user("jinhua-bureau", password="x")
    assign_role(user=outsider, role=Role.BUREAU, region=Region.objects.get(code="330700"))
    finance = User.objects.create_user("xihu-finance", password="x")
    assign_role(user=finance, role=Role.FINANCE, region=Region.objects.get(code="330106"))
    for user in (outsider, finance):
        with pytest.raises(PolicyChangeRefused):
            revise_policy_value(
                row=xihu_90, applies_from=D(2026, 1, 1), value=Decimal("120"), reason="x", by=user
            )


def test_shares_read_as_percentages(rulebook):
    share = PolicyValue.objects.filter(unit="share", value__isnull=False).first()
    assert share.display_value.endswith("%")
    assert Decimal(share.display_value.rstrip("%")) == share.value * 100


def test_the_api_changes_a_rule_as_the_admin_does(xihu_90, bureau):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(bureau)
    url = f"/api/regions/policy-values/{xihu_90.pk}/revise/"
    refused = api.post(url, {"value": "120", "reason": "提标"}, format="json")
    assert refused.status_code == 400 and "applies_from" in refused.json()
    answer = api.post(
        url, {"value": "120", "applies_from": "2026-01-01", "reason": "提标"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["starts_new_version"] is True
    assert body["ended"]["effective_to"] == "2025-12-31"
    assert (body["new"]["value"], body["new"]["effective_from"]) == ("120.0000", "2026-01-01")
    negative = api.post(
        url, {"value": "-1", "applies_from": "2025-06-01", "reason": "x"}, format="json"
    )
    assert (
        negative.status_code == 400 and "policy_value_not_negative" not in negative.content.decode()
    )


def test_the_api_previews_a_change_without_saving_it(xihu_90, bureau):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(bureau)
    url = f"/api/regions/policy-values/{xihu_90.pk}/revise/"
    body = {"value": "120", "applies_from": "2027-01-01", "reason": "提标", "preview": True}
    answer = api.post(url, body, format="json")
    assert answer.status_code == 200, answer.content
    preview = answer.json()["preview"]
    assert preview["period"] == "2027-01-01" and preview["region"] == "330106"
    assert "受影响" in preview["text"]
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100") and xihu_90.effective_to is None
