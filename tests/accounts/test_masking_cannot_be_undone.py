"""A masked ID number stays masked: its hidden digits (330106********0015) are the birth date,
so no list — API lists and reports, admin changelists, the dashboard, the phone page — shows a
birth date, a date that is a birthday (a due date at 60), or the order of birthdays, for anyone;
details show the birth date only where they show the whole number. A whole number is looked up
through a POST body, rationed per user, and a search or lookup never travels in a logged URL.

Every list is found from the code (the API's endpoints, the admin's registry), so a new list is
checked without editing this file.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.urls import reverse
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.throttling import ScopedRateThrottle

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from facilities import services as facility_services
from regions.models import Region
from residents import services as resident_services
from residents.id_numbers import mask_id_number, with_check_character
from subsidies.run.planning import request_allowance_run
from tests.factories import BedFactory, ElderCategoryFactory, FacilityFactory

PROJECT_APPS = ("regions", "residents", "facilities", "visits", "subsidies")
ROLES = ["bureau", "auditor", "street", "finance", "institution", "superuser"]
TODAY = datetime.date.today()
CUIYUAN_STREET, CUIYUAN_COMMUNITY = "330106004", "330106004001"


def region(code):
    return Region.objects.get(code=code)


def birthday(days_ahead: int, year: int) -> datetime.date:
    """A birth date whose day of the year is no date the fixtures or today's records carry."""
    day = TODAY + datetime.timedelta(days=days_ahead)
    if (day.month, day.day) == (2, 29):
        day += datetime.timedelta(days=1)
    return day.replace(year=year)


def id_number_born(born: datetime.date, serial: int) -> str:
    return with_check_character(f"330106{born:%Y%m%d}{serial:03d}")


@pytest.fixture
def world(rulebook):
    cuiyuan = region(CUIYUAN_COMMUNITY)
    people = {}
    for key, born, serial in (
        ("never_assessed", birthday(120, 1940), 11),
        ("assessed", birthday(200, 1943), 21),
    ):
        people[key] = resident_services.create_elder(
            id_number=id_number_born(born, serial),
            name=f"老人{serial}",
            hukou_region=cuiyuan,
            residence_region=cuiyuan,
            phone="13812345678",
        )
        ElderCategoryFactory(elder=people[key])
    resident_services.record_legacy_assessment(
        elder=people["assessed"],
        assessed_on=TODAY - datetime.timedelta(days=800),
        assessor="评估员",
        level="intact",
    )
    facility = FacilityFactory(name="翠苑养老院", region=region(CUIYUAN_STREET))
    facility_services.admit_to_bed(
        elder=people["assessed"],
        bed=BedFactory(facility=facility),
        start_date=TODAY - datetime.timedelta(days=10),
    )
    caregiver = facility_services.register_caregiver(
        name="护理员甲", id_number=id_number_born(birthday(280, 1980), 31), phone="13900001111"
    )
    facility_services.employ_caregiver(
        caregiver=caregiver, facility=facility, start_date=TODAY - datetime.timedelta(days=30)
    )
    people["caregiver"] = caregiver
    request_allowance_run(region=region("330106"), period=TODAY.replace(day=1), sync=True)
    return {"people": people, "facility": facility}


def make_user(name, world):
    if name == "superuser":
        return User.objects.create_superuser(username=name, password="x")
    user = User.objects.create_user(username=name, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    grants = {
        "bureau": {"role": Role.BUREAU, "region": region("330106")},
        "auditor": {"role": Role.AUDITOR, "region": region("330106")},
        "street": {"role": Role.STREET_WORKER, "region": region(CUIYUAN_STREET)},
        "finance": {"role": Role.FINANCE, "region": region("330106")},
        "institution": {"role": Role.INSTITUTION_STAFF, "facility": world["facility"]},
    }
    RoleAssignment.objects.create(user=user, **grants[name])
    return User.objects.get(pk=user.pk)


def birth_date_patterns(born: datetime.date) -> list[re.Pattern]:
    """The day and month of ``born`` in any year, as lists write dates: a birthday at 60 gives
    the birth date as surely as the birth date does."""
    m, d = born.month, born.day
    return [
        re.compile(rf"(?<!\d)\d{{4}}-{m:02d}-{d:02d}(?!\d)"),
        re.compile(rf"(?<!\d)\d{{4}}/{m:02d}/{d:02d}(?!\d)"),
        re.compile(rf"(?<!\d)\d{{4}}{m:02d}{d:02d}(?!\d)"),
        re.compile(rf"(?<!\d)\d{{4}}年0?{m}月0?{d}日"),
    ]


def list_pages(client) -> dict[str, str]:
    """Every list the user can open: API endpoints without a path parameter (lists and
    reports, with the parameters the reports need), every admin changelist, the dashboard and
    the phone page."""
    pages = {}
    month = f"{TODAY:%Y-%m}"
    extra = {
        "/api/visits/compliance/": {"area": CUIYUAN_STREET, "month": month},
        "/api/visits/health-checks/": {"area": CUIYUAN_STREET},
    }
    for path, _regex, method, _callback in EndpointEnumerator().get_api_endpoints():
        if method != "GET" or "{" in path or path.startswith("/api/schema"):
            continue
        response = client.get(path, extra.get(path, {}))
        if response.status_code == 200:
            pages[path] = response.content.decode()
    for model, _model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        if response.status_code == 200:
            pages[changelist] = response.content.decode()
    for path in ("/dashboard/", "/m/visits/"):
        response = client.get(path)
        if response.status_code == 200:
            pages[path] = response.content.decode()
    return pages


@pytest.mark.parametrize("role", ROLES)
def test_no_list_shows_what_rebuilds_a_masked_id_number(world, role, client):
    client.force_login(make_user(role, world))
    pages = list_pages(client)
    assert pages, "the role opened no list at all"
    everything = "\n".join(pages.values())
    problems = []
    for key, person in world["people"].items():
        number = person.id_number
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        for path, text in pages.items():
            if person.id_number in text:
                problems.append(f"{path}: the whole ID number of {key}")
        if mask_id_number(person.id_number) not in everything:
            continue
        for path, text in pages.items():
            for pattern in birth_date_patterns(born):
                if found := pattern.search(text):
                    problems.append(f"{path}: {found.group(0)} gives the birth date of {key}")
    assert not problems, "\n".join(problems)


def test_the_lists_being_checked_include_the_masked_numbers(world, client):
    """The check above has something to bite on: a bureau's lists do show masked numbers and
    ages, and the payment lines keep their facts without the birth date."""
    client.force_login(make_user("bureau", world))
    pages = list_pages(client)
    elder = world["people"]["never_assessed"]
    assert mask_id_number(elder.id_number) in pages["/api/residents/elders/"]
    listed = client.get("/api/residents/elders/").json()["results"]
    assert "birth_date" not in listed[0] and listed[0]["age"] >= 80
    lines = client.get("/api/subsidies/lines/").json()["results"]
    assert lines and all("birth_date" not in line["inputs"] for line in lines)
    assert all(line["inputs"]["age"] >= 80 for line in lines)


def test_the_admin_list_shows_the_age_and_cannot_be_sorted_by_the_number(world, client):
    from residents.admin import ElderAdmin

    client.force_login(make_user("bureau", world))
    page = client.get(reverse("admin:residents_elder_changelist")).content.decode()
    assert "出生日期" not in page and "年龄" in page
    # The order of the numbers is the order of the birth dates the mask hides.
    assert not hasattr(ElderAdmin.masked_id_number, "admin_order_field")


# --- details: the birth date only with the whole number -------------------------------------


def test_a_detail_with_a_masked_number_has_no_birth_date(world, client):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("auditor", world))
    detail = client.get(f"/api/residents/elders/{elder.pk}/").json()
    assert detail["id_number"] == mask_id_number(elder.id_number)
    assert detail["birth_date"] is None and detail["age"] >= 80
    page = client.get(reverse("admin:residents_elder_change", args=[elder.pk])).content.decode()
    assert mask_id_number(elder.id_number) in page and elder.id_number not in page
    for pattern in birth_date_patterns(elder.birth_date):
        assert not pattern.search(page), pattern.pattern


def test_a_detail_with_the_whole_number_keeps_the_birth_date(world, client):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("bureau", world))
    detail = client.get(f"/api/residents/elders/{elder.pk}/").json()
    assert detail["id_number"] == elder.id_number
    assert detail["birth_date"] == elder.birth_date.isoformat()


def test_an_auditor_sees_a_caregivers_number_masked(world, client):
    caregiver = world["people"]["caregiver"]
    client.force_login(make_user("auditor", world))
    url = reverse("admin:facilities_caregiver_change", args=[caregiver.pk])
    page = client.get(url).content.decode()
    assert mask_id_number(caregiver.id_number) in page
    assert caregiver.id_number not in page and "13900001111" not in page
    # Institution staff see it masked too, until they ask for it (tests/accounts/test_reveal.py).
    client.force_login(make_user("institution", world))
    assert caregiver.id_number not in client.get(url).content.decode()


# --- free assessments due: no birthday for a date, none for an order, no day in the past -------


def test_a_due_date_that_is_a_birthday_is_not_shown_and_does_not_order_the_list(world, client):
    client.force_login(make_user("bureau", world))
    rows = client.get("/api/residents/elders/assessments-due/").json()["results"]
    by_elder = {row["elder_id"]: row for row in rows}
    never = world["people"]["never_assessed"]
    assert by_elder[never.pk]["due_on"] is None
    assert by_elder[never.pk]["last_assessed_on"] is None
    assessed = world["people"]["assessed"]
    assert by_elder[assessed.pk]["due_on"] is not None  # two years after the last assessment
    assert rows[0]["elder_id"] == never.pk  # never assessed: first, whatever the birthday


@pytest.mark.parametrize(
    "on",
    [
        TODAY - datetime.timedelta(days=1),
        TODAY + datetime.timedelta(days=32),
        datetime.date(1990, 1, 1),
    ],
)
def test_the_due_list_is_not_asked_for_a_day_that_would_tell_a_birthday(world, client, on):
    """On a past day the list would say whether each elder had turned 60 by then."""
    client.force_login(make_user("bureau", world))
    response = client.get("/api/residents/elders/assessments-due/", {"on": on.isoformat()})
    assert response.status_code == 400 and "on" in response.json()


def test_the_due_list_plans_the_coming_month(world, client):
    client.force_login(make_user("bureau", world))
    ahead = (TODAY + datetime.timedelta(days=31)).isoformat()
    assert client.get("/api/residents/elders/assessments-due/", {"on": ahead}).status_code == 200


# --- looking up a whole ID number --------------------------------------------------------------


@pytest.fixture
def lookup_rate(monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"login": "10/min", "id_lookup": "3/hour"}
    )
    cache.clear()
    yield
    cache.clear()


def lookup(client, number, **extra):
    return client.post(
        "/api/residents/elders/lookup/",
        {"id_number": number, **extra},
        content_type="application/json",
    )


def test_a_whole_number_is_looked_up_in_the_body_within_the_scope(world, client, lookup_rate):
    elder = world["people"]["never_assessed"]
    client.force_login(make_user("street", world))
    found = lookup(client, elder.id_number.lower(), reason="上门核实")
    assert found.status_code == 200
    body = found.json()
    assert body["count"] == 1 and body["results"][0]["id"] == elder.pk
    assert body["results"][0]["id_number"] == mask_id_number(elder.id_number)
    entry = AuditEntry.objects.get(object_id=str(elder.pk), action=AuditAction.VIEW_ID_NUMBER)
    assert entry.reason == "上门核实" and entry.details["lookup"] is True
    ningbo = resident_services.create_elder(
        id_number=id_number_born(datetime.date(1941, 2, 3), 41),
        name="宁波老人",
        hukou_region=region("330203"),
    )
    assert lookup(client, ningbo.id_number).json() == {"count": 0, "results": []}


def test_an_auditor_may_look_up_though_the_lookup_is_a_post(world, client, lookup_rate):
    client.force_login(make_user("auditor", world))
    assert lookup(client, world["people"]["assessed"].id_number).json()["count"] == 1


def test_lookups_are_rationed_per_user(world, client, lookup_rate):
    client.force_login(make_user("street", world))
    guesses = [id_number_born(datetime.date(1940, 1, day), 11) for day in range(1, 5)]
    codes = [lookup(client, number).status_code for number in guesses]
    assert codes == [200, 200, 200, 429]
    assert "过于频繁" in lookup(client, guesses[0]).json()["detail"]


def test_the_id_number_is_not_a_query_parameter_of_the_list(world, client):
    client.force_login(make_user("bureau", world))
    elder = world["people"]["never_assessed"]
    response = client.get("/api/residents/elders/", {"id_number": elder.id_number})
    assert response.status_code == 400
    assert "lookup" in str(response.json()["id_number"])


def test_the_admins_whole_number_search_shares_the_ration(world, client, lookup_rate):
    client.force_login(make_user("street", world))
    elder = world["people"]["never_assessed"]
    changelist = reverse("admin:residents_elder_changelist")
    for _ in range(3):
        response = client.get(changelist, {"q": elder.id_number})
        assert [e.pk for e in response.context["cl"].result_list] == [elder.pk]
    refused = client.get(changelist, {"q": elder.id_number})
    assert list(refused.context["cl"].result_list) == []
    assert "过于频繁" in refused.content.decode()
    # Names are still searched as before.
    by_name = client.get(changelist, {"q": elder.name})
    assert [e.pk for e in by_name.context["cl"].result_list] == [elder.pk]
