"""Who opens which dashboard: a bureau its region and below, a street office its street, finance
the allowances of its region, institution staff none; a region outside one's areas is not found."""

import pytest

from accounts.choices import Role
from tests.dashboards.conftest import BEISHAN, CUIYUAN, CUIYUAN_COMMUNITY, HAISHU, XIHU
from tests.factories import FacilityFactory

PERIOD = {"start": "2024-03", "end": "2024-04"}

ALL_SECTIONS = [
    "compliance",
    "allowances",
    "staffing",
    "beds",
    "workforce",
    "assessments",
    "coverage",
    "policy_gaps",
]


def picker_codes(response):
    return [region.code for region in response.context["choices"]]


def test_anonymous_users_are_sent_to_the_login_page(client, rulebook):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard/")


def test_the_page_is_named_dashboard_for_links_from_the_admin():
    from django.urls import reverse

    assert reverse("dashboard") == "/dashboard/"


def test_a_bureau_opens_its_district_with_every_section(client_for, bureau):
    response = client_for(bureau).get("/dashboard/", PERIOD)
    assert response.status_code == 200
    assert response.context["area"].code == XIHU  # its own area by default
    assert response.context["sections"] == ALL_SECTIONS
    codes = picker_codes(response)
    assert codes[0] == XIHU
    assert CUIYUAN in codes and BEISHAN in codes
    assert all(code.startswith(XIHU) for code in codes)
    assert HAISHU not in codes


def test_a_bureau_opens_a_street_of_its_district(client_for, bureau):
    response = client_for(bureau).get("/dashboard/", {"region": CUIYUAN, **PERIOD})
    assert response.status_code == 200
    assert response.context["area"].code == CUIYUAN


@pytest.mark.parametrize("code", [HAISHU, "330000", "330100", "999999"])
def test_a_region_outside_the_bureau_s_area_is_not_found(client_for, bureau, code):
    response = client_for(bureau).get("/dashboard/", {"region": code, **PERIOD})
    assert response.status_code == 404


def test_a_street_office_sees_its_street_only_and_no_payments(client_for, user_with):
    street = user_with(Role.STREET_WORKER, CUIYUAN)
    client = client_for(street)
    response = client.get("/dashboard/", PERIOD)
    assert response.status_code == 200
    assert response.context["area"].code == CUIYUAN
    assert picker_codes(response) == [CUIYUAN]
    # Street offices reach residents, visits and facilities (accounts/rules.py), not subsidies.
    assert response.context["sections"] == [s for s in ALL_SECTIONS if s != "allowances"]
    assert "allowances" not in response.context
    assert 'id="allowances"' not in response.content.decode()
    assert client.get("/dashboard/", {"region": CUIYUAN_COMMUNITY}).status_code == 200
    for other in (XIHU, BEISHAN):
        assert client.get("/dashboard/", {"region": other}).status_code == 404


def test_finance_sees_the_allowances_of_its_region_and_nothing_about_people(client_for, user_with):
    finance = user_with(Role.FINANCE, XIHU)
    response = client_for(finance).get("/dashboard/", PERIOD)
    assert response.status_code == 200
    assert response.context["sections"] == ["allowances", "policy_gaps"]
    for hidden in ("compliance", "staffing", "beds", "assessments", "targets"):
        assert hidden not in response.context


def test_an_auditor_reads_the_same_dashboard_as_the_bureau(client_for, user_with):
    auditor = user_with(Role.AUDITOR, XIHU)
    response = client_for(auditor).get("/dashboard/", PERIOD)
    assert response.status_code == 200
    assert response.context["sections"] == ALL_SECTIONS


def test_institution_staff_have_no_dashboard(client_for, user_with):
    staff = user_with(Role.INSTITUTION_STAFF, facility=FacilityFactory())
    response = client_for(staff).get("/dashboard/")
    assert response.status_code == 403
    assert "管理后台" in response.content.decode()
    assert client_for(staff).get("/dashboard/", {"region": XIHU}).status_code == 403


def test_a_user_without_any_role_has_no_dashboard(client_for, rulebook, django_user_model):
    nobody = django_user_model.objects.create_user(username="nobody", password="x")
    assert client_for(nobody).get("/dashboard/").status_code == 403


def test_a_superuser_may_open_any_region(admin_client, rulebook):
    response = admin_client.get("/dashboard/", {"region": HAISHU, **PERIOD})
    assert response.status_code == 200
    assert response.context["area"].code == HAISHU


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2024-13"}, "start"),
        ({"start": "March"}, "start"),
        ({"start": "2024-05", "end": "2024-04"}, "end"),
        ({"start": "2023-01", "end": "2024-01"}, "end"),  # thirteen months
        ({"region": "33' OR 1=1"}, "region"),
    ],
)
def test_bad_filters_are_answered_with_the_field_named(client_for, bureau, params, field):
    response = client_for(bureau).get("/dashboard/", params)
    assert response.status_code == 400
    assert field in response.context["form"].errors


def test_twelve_months_are_allowed(client_for, bureau):
    response = client_for(bureau).get("/dashboard/", {"start": "2023-05", "end": "2024-04"})
    assert response.status_code == 200
    assert len(response.context["period"].months) == 12


def test_the_page_links_back_to_the_admin_and_loads_no_outside_asset(client_for, bureau):
    html = client_for(bureau).get("/dashboard/", PERIOD).content.decode()
    assert 'href="/admin/"' in html
    assert "/static/dashboards/vendor/chart.umd.js" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert "cdn" not in html.lower()


def test_the_page_speaks_chinese_by_default_and_english_when_asked(client_for, bureau):
    client = client_for(bureau)
    chinese = client.get("/dashboard/", PERIOD).content.decode()
    assert "探访完成率（按街道、按月）" in chinese
    english = client.get("/dashboard/", PERIOD, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Visit compliance by street and month" in english
    assert "Back to the admin" in english


def test_the_dashboard_only_reads(client_for, bureau, client):
    assert client.post("/dashboard/").status_code == 302  # signed out: to the login page
    assert client_for(bureau).post("/dashboard/").status_code == 405


def test_a_worker_of_a_community_opens_that_community(client_for, user_with):
    worker = user_with(Role.STREET_WORKER, CUIYUAN_COMMUNITY)
    response = client_for(worker).get("/dashboard/", PERIOD)
    assert response.status_code == 200
    assert picker_codes(response) == [CUIYUAN_COMMUNITY]
    assert response.context["compliance"].group_by == "community"
    assert client_for(worker).get("/dashboard/", {"region": CUIYUAN}).status_code == 404
