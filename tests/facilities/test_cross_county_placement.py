"""A 低保 elder registered in one county and placed in an institution of another: the approval
of the placement is the registration county's bureau's (docs/policy.md §1 nursing subsidy —
000 §12), which otherwise does not see a stay in another county's institution. It finds that
stay for this action only (the API's placement-approvals list and the admin's 县级批准 page),
sees only its placement facts, and records the approval; nothing else of the stay opens to it,
and no other bureau, role or county reaches it."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.scoping import OutOfScopeWrite, scoped
from facilities import selectors, services
from facilities.models import Stay
from residents.id_numbers import with_check_character
from tests.facilities.test_placement_approval import county, staff
from tests.factories import BedFactory, ElderFactory, FacilityFactory
from tests.openapi_conformance import assert_matches_schema

D = datetime.date
PLACEMENT_FACTS = {
    "id",
    "elder",
    "elder_name",
    "facility_name",
    "start_date",
    "end_date",
    "placement_approved_on",
    "placement_approval_number",
    "placement_approved_by",
}


@pytest.fixture
def placed(rulebook):
    """A Xihu-registered elder in a bed of a Ningbo (Haishu) institution since 2024-03-10, and
    a Ningbo elder beside them."""
    ningbo_home = FacilityFactory(name="海曙福利院", region=county("330203"))
    xihu_elder = ElderFactory(
        id_number=with_check_character("33010619400501002"), hukou_region=county("330106")
    )
    ningbo_elder = ElderFactory(hukou_region=county("330203"))
    stays = {
        "xihu": services.admit_to_bed(
            elder=xihu_elder, bed=BedFactory(facility=ningbo_home), start_date=D(2024, 3, 10)
        ),
        "ningbo": services.admit_to_bed(
            elder=ningbo_elder, bed=BedFactory(facility=ningbo_home), start_date=D(2024, 3, 10)
        ),
    }
    return stays


@pytest.fixture
def xihu_bureau(rulebook):
    return staff("xihu-bureau-cross", Role.BUREAU, "330106")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def approval(code="330106"):
    return {
        "approved_on": "2024-03-20",
        "approval_number": "西民批〔2024〕30号",
        "approved_by": code,
    }


def test_the_registration_county_bureau_finds_and_approves_the_stay(placed, xihu_bureau):
    stay = placed["xihu"]
    client = api(xihu_bureau)
    # The stay is in no list or page the bureau otherwise has.
    assert not scoped(Stay.objects.all(), xihu_bureau).filter(pk=stay.pk).exists()
    assert client.get(f"/api/facilities/stays/{stay.pk}/").status_code == 404
    listed = client.get("/api/facilities/stays/").json()["results"]
    assert stay.pk not in {row["id"] for row in listed}

    # For the approval it finds it, with its placement facts only (not the Ningbo elder's).
    found = client.get("/api/facilities/stays/placement-approvals/")
    assert found.status_code == 200
    rows = found.json()["results"]
    assert [row["id"] for row in rows] == [stay.pk]
    assert set(rows[0]) == PLACEMENT_FACTS and rows[0]["facility_name"] == "海曙福利院"
    assert_matches_schema("get", "/api/facilities/stays/placement-approvals/", found)
    by_elder = client.get("/api/facilities/stays/placement-approvals/", {"elder": stay.elder_id})
    assert [row["id"] for row in by_elder.json()["results"]] == [stay.pk]
    for wrong in ("x", str(2**63)):  # not a number; one past what the key column holds
        bad = client.get("/api/facilities/stays/placement-approvals/", {"elder": wrong})
        assert bad.status_code == 400 and "elder" in bad.json()

    answer = client.post(
        f"/api/facilities/stays/{stay.pk}/placement-approval/", approval(), format="json"
    )
    assert answer.status_code == 200, answer.content
    assert set(answer.json()) == PLACEMENT_FACTS
    assert answer.json()["placement_approved_by"] == "330106"
    assert_matches_schema("post", "/api/facilities/stays/{id}/placement-approval/", answer)
    assert Stay.objects.get(pk=stay.pk).placement_approval_number == "西民批〔2024〕30号"


def test_nothing_else_of_the_stay_opens_to_the_bureau(placed, xihu_bureau):
    stay = placed["xihu"]
    client = api(xihu_bureau)
    for action, body in (
        ("discharge", {"end_date": "2024-06-01"}),
        ("transfer", {"to_bed": stay.bed_id, "on": "2024-06-01"}),
        ("correct", {"start_date": "2024-03-01", "reason": "更正"}),
    ):
        response = client.post(f"/api/facilities/stays/{stay.pk}/{action}/", body, format="json")
        assert response.status_code == 404, (action, response.status_code)
    assert Stay.objects.get(pk=stay.pk).end_date is None


@pytest.mark.parametrize(
    ("role", "code"),
    [
        (Role.BUREAU, "330523"),  # another county's bureau
        (Role.BUREAU, "330203"),  # the institution's county: the elder is not registered there
        (Role.STREET_WORKER, "330106"),
        (Role.FINANCE, "330106"),
        (Role.AUDITOR, "330106"),
    ],
)
def test_no_other_bureau_or_role_reaches_it(placed, role, code):
    stay = placed["xihu"]
    user = staff(f"cross-{role}-{code}", role, code)
    client = api(user)
    rows = client.get("/api/facilities/stays/placement-approvals/").json().get("results", [])
    # Listed only where the stay is in the role's own scope anyway (the institution's county).
    ordinary = scoped(Stay.objects.all(), user).filter(pk=stay.pk).exists()
    assert (stay.pk in {row["id"] for row in rows}) == ordinary
    assert ordinary == (code == "330203")
    response = client.post(
        f"/api/facilities/stays/{stay.pk}/placement-approval/", approval(), format="json"
    )
    assert response.status_code in (400, 403, 404), response.content
    # A refusal, not any error: a crash in the service would otherwise pass as one.
    with pytest.raises((OutOfScopeWrite, ValidationError)):
        services.record_placement_approval(
            stay=stay,
            approved_on=D(2024, 3, 20),
            approval_number="x",
            approved_by=county("330106"),
            by=user,
        )
    assert Stay.objects.get(pk=stay.pk).placement_approved_on is None


def test_the_service_refuses_a_stay_outside_both_parts_of_the_scope(placed, xihu_bureau):
    """The Ningbo elder's stay: neither in the Xihu bureau's scope nor of an elder registered
    in Xihu — refused by the service itself, whatever the door."""
    with pytest.raises(OutOfScopeWrite):
        services.record_placement_approval(
            stay=placed["ningbo"],
            approved_on=D(2024, 3, 20),
            approval_number="x",
            approved_by=county("330203"),
            by=xihu_bureau,
        )
    assert list(selectors.placement_approval_stays(xihu_bureau)) == [placed["xihu"]]


def test_a_home_care_bed_elsewhere_stays_hidden(placed, xihu_bureau):
    home_bed = BedFactory(
        facility=placed["xihu"].bed.facility, bed_type="home_care", home_address="宁波市某小区1幢"
    )
    elder = ElderFactory(hukou_region=county("330106"))
    stay = services.admit_to_bed(elder=elder, bed=home_bed, start_date=D(2024, 3, 10))
    assert not selectors.placement_approval_stays(xihu_bureau).filter(pk=stay.pk).exists()


def test_the_admin_finds_and_records_it(placed, xihu_bureau, client):
    stay = placed["xihu"]
    client.force_login(xihu_bureau)
    assert client.get(reverse("admin:facilities_stay_change", args=[stay.pk])).status_code in (
        302,
        404,
    )
    listing = client.get(reverse("admin:facilities_stay_placement_list"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert (
        "海曙福利院" in text and reverse("admin:facilities_stay_placement", args=[stay.pk]) in text
    )
    assert placed["ningbo"].elder.name not in text
    url = reverse("admin:facilities_stay_placement", args=[stay.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "placement_approved_on": "2024-03-20",
            "placement_approval_number": "西民批〔2024〕31号",
            "placement_approved_by": county("330106").pk,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:facilities_stay_placement_list")
    assert Stay.objects.get(pk=stay.pk).placement_approval_number == "西民批〔2024〕31号"
    other = reverse("admin:facilities_stay_placement", args=[placed["ningbo"].pk])
    assert client.get(other).status_code == 404


def test_the_list_shows_every_open_stay_a_page_at_a_time(placed, xihu_bureau, client, monkeypatch):
    """No stay is dropped from the list: it is paged, and can keep only those not approved."""
    from facilities import admin as facilities_admin

    monkeypatch.setattr(facilities_admin, "PLACEMENTS_PER_PAGE", 1)
    facility = placed["xihu"].bed.facility
    second = services.admit_to_bed(
        elder=ElderFactory(hukou_region=county("330106"), name="第二位"),
        bed=BedFactory(facility=facility),
        start_date=D(2024, 3, 1),
    )
    client.force_login(xihu_bureau)
    url = reverse("admin:facilities_stay_placement_list")
    first_page = client.get(url).content.decode()
    assert "共 2 条在住记录，第 1 / 2 页" in first_page and "?p=2" in first_page
    second_page = client.get(url, {"p": 2}).content.decode()
    assert "第二位" in second_page and "第二位" not in first_page
    record_url = reverse("admin:facilities_stay_placement", args=[placed["xihu"].pk])
    client.post(
        record_url,
        {
            "placement_approved_on": "2024-03-20",
            "placement_approval_number": "西民批〔2024〕32号",
            "placement_approved_by": county("330106").pk,
        },
    )
    pending = client.get(url, {"pending": "1"}).content.decode()
    assert "共 1 条在住记录" in pending and "第二位" in pending
    assert reverse("admin:facilities_stay_placement", args=[second.pk]) in pending
