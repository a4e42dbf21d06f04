"""An elder's or a caregiver's page shows the ID number and phone masked; 显示完整 asks for a
reason, answers with the whole value from a POST, records the look in the audit trail and is
rationed like the whole-number lookup. Nothing on the page rebuilds a masked number."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from accounts.choices import AuditAction
from accounts.models import AuditEntry
from residents.id_numbers import mask_id_number
from tests.accounts.test_masking_cannot_be_undone import birth_date_patterns, make_user

pytestmark = pytest.mark.django_db
LOOKS = [AuditAction.VIEW_ID_NUMBER, AuditAction.VIEW_PHONE]


def looks():
    return AuditEntry.objects.filter(action__in=LOOKS).order_by("pk")


@pytest.fixture
def reveal_rate(monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"login": "10/min", "id_lookup": "3/hour"}
    )
    cache.clear()
    yield
    cache.clear()


def elder_page(client, elder) -> str:
    return client.get(reverse("admin:residents_elder_change", args=[elder.pk])).content.decode()


def reveal(client, obj, field, reason="上门核实身份", admin_name="residents_elder"):
    url = reverse(f"admin:{admin_name}_reveal", args=[obj.pk, field])
    return client.post(url, {"reason": reason})


def test_an_elders_page_shows_the_number_and_phone_masked_with_a_button(world, client):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("bureau", world))
    page = elder_page(client, elder)
    assert mask_id_number(elder.id_number) in page and "138****5678" in page
    assert elder.id_number not in page and elder.phone not in page
    assert page.count("显示完整") == 2
    for pattern in birth_date_patterns(elder.birth_date):
        assert not pattern.search(page), pattern.pattern
    # Opening the page is no look at the whole number any more: nothing is recorded.
    assert not looks().exists()


def test_the_whole_value_needs_a_reason_and_each_look_is_recorded(world, client, reveal_rate):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("street", world))
    refused = reveal(client, elder, "id_number", reason="  ")
    assert refused.status_code == 400 and "事由" in refused.json()["error"]
    assert not looks().exists()

    shown = reveal(client, elder, "id_number")
    assert shown.status_code == 200 and shown.json() == {"value": elder.id_number}
    phone = reveal(client, elder, "phone", reason="电话回访")
    assert phone.json() == {"value": "13812345678"}
    assert [(e.action, e.reason, e.object_type, e.object_id) for e in looks()] == [
        (AuditAction.VIEW_ID_NUMBER, "上门核实身份", "residents.elder", str(elder.pk)),
        (AuditAction.VIEW_PHONE, "电话回访", "residents.elder", str(elder.pk)),
    ]
    assert looks()[0].user.username == "street"


def test_reveals_are_rationed_with_the_whole_number_lookup(world, client, reveal_rate):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("bureau", world))
    codes = [reveal(client, elder, "id_number").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "频繁" in reveal(client, elder, "phone").json()["error"]
    assert looks().count() == 3


def test_roles_that_do_not_need_the_whole_value_get_no_button_and_no_value(world, client):
    elder = world["people"]["never_assessed"]
    for role in ("auditor", "finance"):
        client.force_login(make_user(role, world))
        page = elder_page(client, elder)
        assert "显示完整" not in page and elder.id_number not in page
        assert reveal(client, elder, "id_number").status_code in (403, 404)
    assert not looks().exists()


def test_a_record_outside_the_scope_is_not_found_and_get_is_refused(world, client):
    # Institution staff reach the elders of their facility only: 老人11 is not one of them.
    outside = world["people"]["never_assessed"]
    client.force_login(make_user("institution", world))
    assert reveal(client, outside, "id_number").status_code == 404
    inside = world["people"]["assessed"]
    url = reverse("admin:residents_elder_reveal", args=[inside.pk, "id_number"])
    assert client.get(url).status_code == 405
    assert reveal(client, inside, "birth_date").status_code == 404
    assert not looks().exists()


def test_a_blank_phone_field_keeps_the_number_a_new_one_replaces_it(world, client):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("bureau", world))
    url = reverse("admin:residents_elder_change", args=[elder.pk])
    context = client.get(url).context
    assert context["adminform"].form.initial["phone"] == ""
    data = {
        "name": elder.name,
        "hukou_region": elder.hukou_region_id,
        "residence_region": elder.residence_region_id,
        "phone": "",
        "pension_type": elder.pension_type,
        "_save": "1",
    }
    # The inlines (categories, assessments) as the page holds them, unchanged.
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        count = str(len(formset.forms))
        data |= {f"{formset.prefix}-TOTAL_FORMS": count, f"{formset.prefix}-INITIAL_FORMS": count}
        for form in formset.forms:
            data[f"{form.prefix}-id"] = form.instance.pk
            data[f"{form.prefix}-elder"] = elder.pk
    assert client.post(url, data).status_code == 302
    elder.refresh_from_db()
    assert elder.phone == "13812345678"
    assert client.post(url, data | {"phone": "13700001234"}).status_code == 302
    elder.refresh_from_db()
    assert elder.phone == "13700001234"


def test_a_caregivers_number_is_masked_for_every_role_and_revealed_with_a_reason(
    world, client, reveal_rate
):
    caregiver = world["people"]["caregiver"]
    url = reverse("admin:facilities_caregiver_change", args=[caregiver.pk])
    for role in ("auditor", "institution"):
        client.force_login(make_user(role, world))
        page = client.get(url).content.decode()
        assert mask_id_number(caregiver.id_number) in page
        assert caregiver.id_number not in page and "13900001111" not in page
        assert ("显示完整" in page) is (role == "institution")
    shown = reveal(client, caregiver, "id_number", admin_name="facilities_caregiver")
    assert shown.json() == {"value": caregiver.id_number}
    (entry,) = looks()
    assert (entry.action, entry.object_type) == (
        AuditAction.VIEW_ID_NUMBER,
        "facilities.caregiver",
    )
