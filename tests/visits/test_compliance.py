"""Compliance: visits owed and done per area, worker and period, at month ends."""

import datetime
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from residents import services as residents
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import XIHU_COMMUNITY, XIHU_OTHER_COMMUNITY
from visits import services
from visits.selectors import compliance, health_checks_due, month_bounds

pytestmark = pytest.mark.django_db

CUIYUAN = "330106004"


@pytest.fixture
def worker(policies):
    user = FieldWorkerFactory(username="cuiyuan")
    street = Region.objects.get(code=CUIYUAN)
    assign_role(user=user, role=Role.STREET_WORKER, region=street)
    VisitWorkerFactory(user=user, area=street, start_date=datetime.date(2023, 1, 1))
    return user


@pytest.fixture
def visit(worker):
    def log(elder, when: str, outcome="seen_well"):
        return services.record_visit(
            uuid=uuid.uuid4(),
            elder=elder,
            worker=worker,
            visited_at=datetime.datetime.fromisoformat(when),
            mode="home",
            outcome=outcome,
        ).visit

    return log


def month_report(year, month, group_by="community", area=CUIYUAN):
    start, end = month_bounds(datetime.date(year, month, 1))
    return compliance(area=Region.objects.get(code=area), start=start, end=end, group_by=group_by)


@pytest.mark.parametrize(
    ("year", "month", "days"), [(2024, 2, 29), (2025, 2, 28), (2024, 4, 30), (2024, 3, 31)]
)
def test_daily_visits_owe_one_elder_day_per_day_of_the_month(make_elder, visit, year, month, days):
    elder = make_elder("childless_alone")
    last_day = datetime.date(year, month, days)
    visit(elder, f"{year}-{month:02d}-01T09:00:00+08:00")
    visit(elder, f"{year}-{month:02d}-01T17:00:00+08:00")  # same day: still one elder-day
    visit(elder, f"{last_day}T23:30:00+08:00")  # late on the last day counts for that day
    report = month_report(year, month)
    assert (report.total.daily_owed, report.total.daily_done) == (days, 2)
    assert report.total.rate == (Decimal(2) / Decimal(days)).quantize(Decimal("0.0001"))
    assert [(o.elder_id, o.frequency, o.missed) for o in report.overdue] == [
        (elder.pk, "daily", days - 2)
    ]


def test_a_visit_just_after_local_midnight_belongs_to_the_next_month(make_elder, visit):
    elder = make_elder("childless_alone")
    # 00:10 in Hangzhou on 1 March is still 29 February in UTC.
    visit(elder, "2024-03-01T00:10:00+08:00")
    assert month_report(2024, 2).total.daily_done == 0
    assert month_report(2024, 3).total.daily_done == 1


def test_monthly_elders_are_done_when_seen_once_in_the_month(make_elder, visit):
    seen = make_elder("empty_nest")
    not_home = make_elder("living_alone")
    never = make_elder("left_behind", lives=XIHU_OTHER_COMMUNITY)
    visit(seen, "2024-04-30T18:00:00+08:00")
    visit(not_home, "2024-04-10T10:00:00+08:00", outcome="not_at_home")
    report = month_report(2024, 4)
    assert (report.total.monthly_owed, report.total.monthly_done) == (3, 1)
    assert report.total.rate == Decimal("0.3333")
    assert report.meets_target(report.total) is False
    assert {o.elder_id for o in report.overdue} == {not_home.pk, never.pk}
    by_community = {line.key: (line.monthly_owed, line.monthly_done) for line in report.lines}
    assert by_community == {XIHU_COMMUNITY: (2, 1), XIHU_OTHER_COMMUNITY: (1, 0)}


def test_all_done_meets_the_rulebook_target_of_100_percent(make_elder, visit):
    elder = make_elder("empty_nest")
    visit(elder, "2024-05-31T09:00:00+08:00")
    report = month_report(2024, 5)
    assert report.total.rate == Decimal("1.0000")
    assert report.target == Decimal(1)
    assert report.target_citation == "西政办〔2023〕46号 §12"
    assert report.meets_target(report.total) is True
    assert report.overdue == []


def test_nothing_owed_gives_no_rate_rather_than_zero(policies):
    report = month_report(2024, 5)
    assert report.total.owed == 0 and report.total.rate is None


def test_the_day_of_death_and_after_are_not_owed(make_elder, visit):
    elder = make_elder("childless_alone")
    residents.record_death(elder=elder, death_date=datetime.date(2024, 3, 15))
    assert month_report(2024, 3).total.daily_owed == 14


def test_xihu_daily_visits_start_on_30_january_2024(make_elder):
    make_elder("childless_alone", "living_alone")
    report = month_report(2024, 1)
    # 30 and 31 January daily; 1–29 January the province's monthly rule (living alone).
    assert (report.total.daily_owed, report.total.monthly_owed) == (2, 1)


def test_compliance_per_street_and_per_worker(make_elder, visit, worker):
    elder = make_elder("empty_nest")
    visit(elder, "2024-06-03T09:00:00+08:00")
    make_elder("empty_nest", lives="330106001001")  # 北山街道: nobody assigned
    streets = month_report(2024, 6, group_by="street", area="330106")
    assert {line.key: (line.owed, line.done) for line in streets.lines} == {
        CUIYUAN: (1, 1),
        "330106001": (1, 0),
    }
    workers = month_report(2024, 6, group_by="worker", area="330106")
    assert {line.key: (line.owed, line.done) for line in workers.lines} == {
        "cuiyuan": (1, 1),
        "": (1, 0),
    }


def test_compliance_endpoint_names_bad_parameters(worker, make_elder, visit):
    client = APIClient()
    client.force_authenticate(worker)
    elder = make_elder("empty_nest")
    visit(elder, "2024-06-03T09:00:00+08:00")
    response = client.get(
        "/api/visits/compliance/", {"area": CUIYUAN, "month": "2024-06", "group_by": "community"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["total"]["owed"], body["total"]["done"], body["total"]["rate"]) == (1, 1, "1.0000")
    assert client.get("/api/visits/compliance/", {"month": "2024-06"}).json().keys() == {"area"}
    bad_month = client.get("/api/visits/compliance/", {"area": CUIYUAN, "month": "June"})
    assert bad_month.status_code == 400 and "month" in bad_month.json()
    outside = client.get("/api/visits/compliance/", {"area": "330106001", "month": "2024-06"})
    assert outside.status_code == 404


# --- free health checks ---------------------------------------------------------------------


def test_xihu_special_difficulty_elders_are_owed_one_free_health_check_a_year(make_elder):
    checked = make_elder("living_alone")
    unchecked = make_elder("childless_alone")
    make_elder()  # not in special difficulty
    services.record_health_check(elder=checked, checked_on=datetime.date(2024, 3, 1))
    services.record_health_check(elder=unchecked, checked_on=datetime.date(2023, 12, 1))
    rows = health_checks_due(area=Region.objects.get(code=CUIYUAN), on=datetime.date(2024, 6, 1))
    assert {(r.elder_id, r.done) for r in rows} == {(checked.pk, True), (unchecked.pk, False)}


def test_health_checks_are_not_owed_before_xihus_document_or_outside_xihu(make_elder):
    make_elder("living_alone")
    make_elder("living_alone", lives="330702")
    xihu, province = Region.objects.get(code="330106"), Region.objects.get(code="330000")
    assert health_checks_due(area=xihu, on=datetime.date(2024, 1, 29)) == []
    rows = health_checks_due(area=province, on=datetime.date(2024, 6, 1))
    assert [r.residence_region.code for r in rows] == [XIHU_COMMUNITY]
