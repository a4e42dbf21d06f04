import datetime
import uuid

import pytest
from django.contrib.auth.models import User

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.services import assign_role
from regions.models import Region
from residents.models import Elder
from residents.services import record_legacy_assessment, set_category
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from visits import services as visits

XIHU = "330106"
CUIYUAN = "330106004"  # 翠苑街道
BEISHAN = "330106001"  # 北山街道
CUIYUAN_COMMUNITY = "330106004001"
BEISHAN_COMMUNITY = "330106001001"
HAISHU = "330203"  # 海曙区, Ningbo


@pytest.fixture
def region(zhejiang):
    return lambda code: Region.objects.get(code=code)


@pytest.fixture
def user_with(rulebook):
    """A staff user with one role over a region (or, for institution staff, a facility)."""

    def make(role, code=None, *, facility=None, username=None):
        user = User.objects.create_user(
            username=username or f"{role}-{code or facility.pk}", password="x", is_staff=True
        )
        if facility is not None:
            RoleAssignment.objects.create(user=user, role=role, facility=facility)
        else:
            assign_role(user=user, role=role, region=Region.objects.get(code=code))
        return User.objects.get(pk=user.pk)

    return make


@pytest.fixture
def bureau(user_with):
    return user_with(Role.BUREAU, XIHU, username="xihu-bureau")


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


# --- visit compliance over months (test_compliance_months, test_stored_schedules) ---------------

D = datetime.date


@pytest.fixture
def seen(rulebook):
    worker = FieldWorkerFactory(username="months-visitor")
    for street in (CUIYUAN, BEISHAN):
        VisitWorkerFactory(
            user=worker, area=Region.objects.get(code=street), start_date=D(2023, 1, 1)
        )

    def log(who, *days, outcome="seen_well"):
        for day in days:
            visits.record_visit(
                uuid=uuid.uuid4(),
                elder=who,
                worker=worker,
                visited_at=datetime.datetime.fromisoformat(f"{day}T10:00:00+08:00"),
                mode="home",
                outcome=outcome,
            )

    return log


@pytest.fixture
def district(seen):
    """Elders whose schedules change inside the period in every way the rules allow."""
    from tests.dashboards.test_sections import elder

    daily = elder(lives=CUIYUAN_COMMUNITY)
    set_category(elder=daily, category="childless_alone", start_date=D(2020, 1, 1))
    seen(daily, "2024-01-29", "2024-01-30", "2024-02-01", "2024-02-01", "2024-03-31")
    seen(daily, "2024-04-02", outcome="not_at_home")

    monthly_from_february = elder(lives=BEISHAN_COMMUNITY)
    set_category(elder=monthly_from_february, category="empty_nest", start_date=D(2024, 2, 15))
    seen(monthly_from_february, "2024-02-10", "2024-03-03")

    ended = elder(lives="330106004002")
    set_category(
        elder=ended, category="living_alone", start_date=D(2019, 1, 1), end_date=D(2024, 3, 10)
    )
    seen(ended, "2023-12-24", "2024-03-20")

    monthly_then_daily = elder(lives=CUIYUAN_COMMUNITY)
    set_category(
        elder=monthly_then_daily,
        category="empty_nest",
        start_date=D(2021, 1, 1),
        end_date=D(2024, 2, 29),
    )
    set_category(elder=monthly_then_daily, category="childless_alone", start_date=D(2024, 3, 1))
    seen(monthly_then_daily, "2024-02-29", "2024-03-01", "2024-03-02", "2024-04-10")

    disabled = elder(lives=BEISHAN_COMMUNITY)
    record_legacy_assessment(
        elder=disabled, assessed_on=D(2024, 1, 15), assessor="评估员", level="moderate"
    )
    seen(disabled, "2024-01-16", "2024-04-09")

    dies = elder(lives=CUIYUAN_COMMUNITY)
    set_category(elder=dies, category="childless_alone", start_date=D(2020, 1, 1))
    Elder.objects.filter(pk=dies.pk).update(death_date=D(2024, 3, 20))
    seen(dies, "2024-03-19")

    unplaced = elder()  # registered in Xihu, residence never recorded
    set_category(elder=unplaced, category="empty_nest", start_date=D(2020, 1, 1))

    outside = elder(lives="330203", registered="330203")  # Ningbo: not in the area
    set_category(elder=outside, category="empty_nest", start_date=D(2020, 1, 1))
