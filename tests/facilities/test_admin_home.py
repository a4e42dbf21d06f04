"""The admin's home page names the system and puts each role's daily tasks first; every role's
main pages render."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse

from accounts.admin_home import dashboard_url
from accounts.demo_accounts import ensure_demo_accounts
from facilities import services
from regions.models import Region
from subsidies.run.planning import request_allowance_run
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date


@pytest.fixture
def demo(rulebook):
    facility = FacilityFactory(name="演示福利中心")
    BedFactory(facility=facility, label="1-1")
    services.apply_for_place(facility=facility, elder=ElderFactory(), applied_on=D(2024, 1, 1))
    request_allowance_run(region=Region.objects.get(code="330106"), period=D(2024, 5, 1), sync=True)
    ensure_demo_accounts()
    return facility


def _login(client, username):
    client.force_login(User.objects.get(username=username))
    return client


def test_the_site_is_named_in_chinese(demo, client):
    page = _login(client, "admin").get(reverse("admin:index")).content.decode()
    assert "浙江省基本养老服务系统" in page and "今日工作" in page


def test_institution_staff_see_their_beds_and_waiting_list_first(demo, client):
    body = _login(client, "institution").get(reverse("admin:index")).content.decode()
    assert "床位一览：演示福利中心" in body and "空床 1 张" in body
    assert "1 人轮候中" in body
    assert reverse("admin:facilities_facility_beds", args=[demo.pk]) in body
    assert reverse("admin:facilities_stay_admit") in body
    assert body.index('id="daily-tasks"') < body.index('class="app-')


def test_finance_sees_batches_to_approve(demo, client):
    body = _login(client, "finance").get(reverse("admin:index")).content.decode()
    assert "待审核批次" in body and "1 个" in body
    assert "state__exact=draft" in body
    assert "床位一览" not in body


def test_street_bureau_and_auditor_home_pages(demo, client):
    street = _login(client, "street").get(reverse("admin:index")).content.decode()
    assert "待处理的探访后续事项" in street
    bureau = _login(client, "bureau").get(reverse("admin:index")).content.decode()
    assert "尚未设定的政策参数" in bureau and "护理员配备核查" in bureau
    auditor = _login(client, "auditor").get(reverse("admin:index")).content.decode()
    assert "审计记录" in auditor


def test_dashboard_link_only_where_the_dashboard_exists(demo, client):
    try:
        url = reverse("dashboard")
    except NoReverseMatch:
        url = None
    assert dashboard_url() == url
    bureau = _login(client, "bureau").get(reverse("admin:index")).content.decode()
    institution = _login(client, "institution").get(reverse("admin:index")).content.decode()
    street = _login(client, "street").get(reverse("admin:index")).content.decode()
    assert ('id="dashboard-link"' in bureau) == (url is not None)
    assert ('id="dashboard-link"' in street) == (url is not None)
    assert 'id="dashboard-link"' not in institution


PAGES = {
    "institution": [
        "admin:facilities_facility_changelist",
        "admin:facilities_bed_changelist",
        "admin:facilities_stay_changelist",
        "admin:facilities_stay_admit",
        "admin:facilities_application_changelist",
        "admin:facilities_caregiver_changelist",
        "admin:facilities_facility_staffing",
    ],
    "finance": [
        "admin:subsidies_paymentbatch_changelist",
        "admin:subsidies_paymentline_changelist",
        "admin:subsidies_allowancerun_changelist",
        "admin:subsidies_batchexport_changelist",
        "admin:subsidies_bankreturnimport_changelist",
    ],
    "bureau": [
        "admin:facilities_facility_changelist",
        "admin:facilities_facility_staffing",
        "admin:subsidies_paymentbatch_changelist",
        "admin:regions_policyvalue_changelist",
        "admin:residents_elder_changelist",
    ],
    "auditor": [
        "admin:subsidies_paymentbatch_changelist",
        "admin:facilities_facility_staffing",
        "admin:accounts_auditentry_changelist",
    ],
    "street": ["admin:residents_elder_changelist", "admin:visits_visit_changelist"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_each_roles_pages_render(demo, client, role):
    _login(client, role)
    for name in PAGES[role]:
        assert client.get(reverse(name)).status_code == 200, name
    board = client.get(reverse("admin:facilities_facility_beds", args=[demo.pk]))
    # The board is for those who reach the facility: staff, the district's bureau and auditor.
    expected = 200 if role in ("institution", "bureau", "auditor") else 403
    assert board.status_code == expected, role
