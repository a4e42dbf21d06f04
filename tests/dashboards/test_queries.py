"""The dashboard reads set-based: the number of queries does not grow with elders, facilities,
beds, visits or payment lines, nor with the months shown."""

import datetime
import itertools
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from facilities import services as facilities
from regions.models import Region
from residents.id_numbers import with_check_character
from residents.services import record_legacy_assessment, set_category
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.schemes import load_schemes
from tests.dashboards.conftest import BEISHAN_COMMUNITY, CUIYUAN_COMMUNITY, XIHU
from tests.factories import (
    BedFactory,
    CaregiverFactory,
    ElderFactory,
    FacilityFactory,
    FieldWorkerFactory,
    VisitWorkerFactory,
)
from visits import services as visits

D = datetime.date
_serial = itertools.count(1)

# Fixed cost of the page (session, user, scope, picker, area, each point-in-time section, and
# on PostgreSQL the reading transaction's savepoint, settings and release) and the cost of
# visit compliance, whatever the number of months (the stored schedules looked for, then the
# months worked out), and the allowance table's lines that would be held, one query per kind
# of payee (subsidies.selectors.unpayable_parts).
FIXED_QUERIES = 38
QUERIES_PER_MONTH = 12


@pytest.fixture
def district(rulebook):
    """grow(n): n more elders to visit in two streets, each seen, assessed and paid, and n more
    institutions with residents, caregivers and applicants."""
    load_schemes()
    scheme = Scheme.objects.get(code="high_age_80_89")
    batch = PaymentBatch.objects.create(
        region=Region.objects.get(code=XIHU), period=D(2024, 3, 1), kind="regular"
    )
    worker = FieldWorkerFactory(username="q-visitor")
    for street in ("330106004", "330106001"):
        VisitWorkerFactory(user=worker, area=Region.objects.get(code=street))

    def elder(community):
        return ElderFactory(
            id_number=with_check_character(f"33010619500101{next(_serial) % 1000:03d}"),
            residence_region=Region.objects.get(code=community),
        )

    def grow(n):
        for _ in range(n):
            for community in (CUIYUAN_COMMUNITY, BEISHAN_COMMUNITY):
                person = elder(community)
                set_category(elder=person, category="empty_nest", start_date=D(2020, 1, 1))
                record_legacy_assessment(
                    elder=person, assessed_on=D(2022, 1, 1), assessor="评估员", level="mild"
                )
                visits.record_visit(
                    uuid=uuid.uuid4(),
                    elder=person,
                    worker=worker,
                    visited_at=datetime.datetime.fromisoformat("2024-03-05T10:00:00+08:00"),
                    mode="home",
                    outcome="seen_well",
                )
                PaymentLine.objects.create(
                    batch=batch,
                    scheme=scheme,
                    period=batch.period,
                    elder=person,
                    amount=Decimal("60.00"),
                )
            home = FacilityFactory()
            for level in ("severe", None):
                resident = elder(CUIYUAN_COMMUNITY)
                facilities.admit_to_bed(
                    elder=resident, bed=BedFactory(facility=home), start_date=D(2024, 1, 1)
                )
                if level:
                    record_legacy_assessment(
                        elder=resident, assessed_on=D(2024, 1, 1), assessor="评估员", level=level
                    )
            facilities.employ_caregiver(
                caregiver=CaregiverFactory(), facility=home, start_date=D(2023, 1, 1)
            )
            facilities.apply_for_place(
                facility=home, elder=elder(BEISHAN_COMMUNITY), applied_on=D(2024, 2, 1)
            )

    return grow


def page_queries(client, months):
    params = {"start": months[0], "end": months[-1]}
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/dashboard/", params)
    assert response.status_code == 200
    return len(queries.captured_queries)


def coverage_queries(start, end) -> int:
    """The coverage section's own queries: a few per item of the service list in force in the
    district (the catalogue is there when the service list's tests loaded it earlier in the
    session), none per elder."""
    from servicelist.coverage import coverage

    with CaptureQueriesContext(connection) as queries:
        coverage(Region.objects.get(code=XIHU), start, end)
    return len(queries.captured_queries)


def test_queries_do_not_grow_with_the_district(district, bureau, client_for):
    client = client_for(bureau)
    district(1)
    small = page_queries(client, ["2024-03", "2024-04"])
    district(4)
    large = page_queries(client, ["2024-03", "2024-04"])
    assert large == small
    section = coverage_queries(D(2024, 3, 1), D(2024, 4, 30))
    assert small <= FIXED_QUERIES + section + 2 * QUERIES_PER_MONTH


def test_the_months_of_compliance_add_no_query(district, bureau, client_for):
    """The months are read together (dashboards.selectors.compliance_by_month)."""
    client = client_for(bureau)
    district(2)
    one = page_queries(client, ["2024-03"])
    assert page_queries(client, ["2024-03", "2024-04"]) == one
    assert page_queries(client, ["2023-05", "2024-04"]) == one
    assert (
        one <= FIXED_QUERIES + coverage_queries(D(2024, 3, 1), D(2024, 3, 31)) + QUERIES_PER_MONTH
    )
