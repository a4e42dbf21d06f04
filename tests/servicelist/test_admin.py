"""The service list in the admin: a bureau edits its own region's items, a refusal shows on
its field (never a 500), and each region's list prints as published."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import Region
from regions.services import set_policy_value
from servicelist.models import ServiceItem


def region(code):
    return Region.objects.get(code=code)


@pytest.fixture
def bureau(service_items, client):
    user = User.objects.create_user("wucheng-bureau", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="servicelist"))
    RoleAssignment.objects.create(user=user, role=Role.BUREAU, region=region("330702"))
    client.force_login(user)
    return client


def form_data(**overrides):
    data = {
        "region": region("330702").pk,
        "number": "1",
        "name": "高龄津贴",
        "name_en": "High-age allowance",
        "target_group": "80周岁以上老年人",
        "content": "测试",
        "kind": "cash",
        "reached_through": "not_tracked",
        "condition": '{"age_at_least": 80}',
        "standard_key": "caregiver_post_allowance",
        "schemes": "[]",
        "citation": "婺城区清单1",
        "corresponds_to": "330700:7",
        "effective_from": "2024-01-01",
        "change_reason": "新增",
    }
    return {**data, **overrides}


def test_an_item_below_the_city_is_refused_on_its_field_in_the_admin(bureau):
    set_policy_value(
        region=region("330702"),
        key="caregiver_post_allowance",
        value=30,
        effective_from=datetime.date(2024, 1, 1),
        citation="测试",
    )
    response = bureau.post(reverse("admin:servicelist_serviceitem_add"), form_data())
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "330700:7" in errors["standard_key"][0]
    assert not ServiceItem.objects.filter(code="330702:1").exists()


def test_a_bureau_adds_to_its_own_list_only(bureau):
    response = bureau.post(reverse("admin:servicelist_serviceitem_add"), form_data(standard_key=""))
    assert response.status_code == 302
    assert ServiceItem.objects.get(code="330702:1").history.first().history_change_reason == "新增"
    other = bureau.post(
        reverse("admin:servicelist_serviceitem_add"),
        form_data(region=region("330106").pk, number="90", corresponds_to="", standard_key=""),
    )
    assert other.status_code == 200
    assert not ServiceItem.objects.filter(code="330106:90").exists()


def test_a_regions_list_prints_with_what_it_inherits(bureau):
    page = bureau.get(
        reverse("admin:servicelist_serviceitem_printable"),
        {"region": "330106", "date": "2024-06-01"},
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "西湖区基本养老服务清单" in text
    assert "养老服务补贴（津贴）" in text  # Xihu's own item 23
    assert "330000:7" in text  # inherited from the province
    assert len(page.context["own"]) == 36
