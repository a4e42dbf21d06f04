"""The rulebook in the admin: a bureau changes a rule by starting a new version from a date,
with a reason; the history reads who, when, why, before and after, in Chinese."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import PolicyValue, Region

D = datetime.date


def staff(username, role, code):
    user = User.objects.create_user(username=username, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="regions"))
    RoleAssignment.objects.create(user=user, role=role, region=Region.objects.get(code=code))
    return user


@pytest.fixture
def xihu_90(rulebook):
    return PolicyValue.objects.get(region__code="330106", key="high_age_allowance_90_99")


@pytest.fixture
def bureau(zhejiang):
    return staff("xihu-bureau", Role.BUREAU, "330106")


def change_form(row, **overrides):
    data = {
        "value": str(row.value) if row.value is not None else "",
        "frequency": row.frequency,
        "is_minimum": "on" if row.is_minimum else "",
        "effective_to": row.effective_to or "",
        "citation": row.citation,
        "note": row.note,
        "applies_from": "",
        "change_reason": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k in ("value", "applies_from")}


def test_a_bureau_raises_a_rate_from_a_date_with_a_reason(client, bureau, xihu_90):
    client.force_login(bureau)
    url = reverse("admin:regions_policyvalue_change", args=[xihu_90.pk])
    response = client.post(
        url,
        change_form(xihu_90, value="120", applies_from="2026-01-01", change_reason="区政府提标"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    xihu_90.refresh_from_db()
    assert (xihu_90.value, xihu_90.effective_to) == (Decimal("100"), D(2025, 12, 31))
    new = PolicyValue.objects.get(
        region=xihu_90.region, key=xihu_90.key, effective_from=D(2026, 1, 1)
    )
    assert new.value == Decimal("120")
    history = client.get(reverse("admin:regions_policyvalue_history", args=[xihu_90.pk]))
    page = history.content.decode()
    assert "区政府提标" in page and "xihu-bureau" in page
    assert "修改内容" in page and "None" not in page and "CHANGES" not in page.upper().split("<")[0]


def test_a_change_without_a_reason_or_date_is_refused_naming_the_field(client, bureau, xihu_90):
    client.force_login(bureau)
    url = reverse("admin:regions_policyvalue_change", args=[xihu_90.pk])
    response = client.post(url, change_form(xihu_90, value="120"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "change_reason" in errors and "applies_from" in errors
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100") and xihu_90.effective_to is None


def test_a_negative_value_gets_a_message_not_a_constraint_name(client, bureau, xihu_90):
    client.force_login(bureau)
    url = reverse("admin:regions_policyvalue_change", args=[xihu_90.pk])
    response = client.post(
        url, change_form(xihu_90, value="-5", applies_from="2026-01-01", change_reason="x")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "数值不能为负数" in page and "policy_value_not_negative" not in page


def test_finance_and_other_districts_cannot_change_the_rules(client, zhejiang, xihu_90):
    for user in (staff("fin", Role.FINANCE, "330106"), staff("nb", Role.BUREAU, "330200")):
        client.force_login(user)
        url = reverse("admin:regions_policyvalue_change", args=[xihu_90.pk])
        client.post(
            url, change_form(xihu_90, value="120", applies_from="2026-01-01", change_reason="x")
        )
        xihu_90.refresh_from_db()
        assert xihu_90.value == Decimal("100") and xihu_90.effective_to is None


def test_rules_are_found_by_their_chinese_or_english_name(client, bureau, rulebook):
    client.force_login(bureau)
    url = reverse("admin:regions_policyvalue_changelist")
    for term in ("高龄津贴（90–99周岁）", "High-age allowance (aged 90"):
        found = client.get(url, {"q": term}).context["cl"].result_list
        assert {row.key for row in found} == {"high_age_allowance_90_99"}


def test_shares_are_typed_and_shown_as_percentages(client, rulebook):
    user = User.objects.create_superuser("root", password="x")
    client.force_login(user)
    share = PolicyValue.objects.filter(unit="share", value__isnull=False).first()
    page = client.get(reverse("admin:regions_policyvalue_changelist"), {"q": share.key}).content
    assert f"{(share.value * 100).normalize():f}%" in page.decode()
    form = (
        client.get(reverse("admin:regions_policyvalue_change", args=[share.pk]))
        .context["adminform"]
        .form
    )
    assert form.initial["value"] == (share.value * 100).normalize()


def test_the_change_form_previews_a_raise_without_saving_it(client, bureau, xihu_90):
    client.force_login(bureau)
    url = reverse("admin:regions_policyvalue_change", args=[xihu_90.pk])
    assert "预览影响" in client.get(url).content.decode()
    form = change_form(xihu_90, value="120", applies_from="2027-01-01", change_reason="提标")
    response = client.post(url, {**form, "_preview": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "预览（尚未保存）" in page and "受影响" in page
    xihu_90.refresh_from_db()
    assert xihu_90.value == Decimal("100") and xihu_90.effective_to is None
