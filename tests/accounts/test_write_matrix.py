"""The proof that writes stay in scope: every write endpoint of the API and every admin add and
change form, admin action and admin page that writes × every role × a record inside and one
outside the role's scope.

Like the read matrix (test_scope_matrix.py), the writes are discovered from the code — the
API's endpoints with POST, PUT, PATCH or DELETE from the OpenAPI endpoint list, the admin's
add and change forms, actions and own pages from the admin site — and each must have a rule
below (or be listed with the reason it writes nothing): a new write without a rule fails here.

A rule says which roles write inside their own scope (the others, with the reason, are refused
there too); every role is refused outside, and a refusal changes nothing. The superuser and the
system (``by=None``) are unrestricted. "Inside" is always 翠苑 (the street worker's street,
inside the bureau's, finance's and auditor's district, where the institution's facility is);
"outside" is the nearest place the role does not cover: 北山街道 for the street worker and the
institution, Ningbo (海曙区) for the district roles.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import TestCase
from django.urls import reverse
from drf_spectacular.generators import EndpointEnumerator

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.scoping import scope_rule
from facilities import services as facility_services
from facilities.models import (
    Application,
    Bed,
    Building,
    Caregiver,
    ChainContract,
    Employment,
    Facility,
    Floor,
    Rating,
    Room,
    Stay,
)
from regions.choices import RegionLevel
from regions.models import PolicyValue, Region
from residents import services as resident_services
from residents.assessment_rules import ITEMS
from residents.id_numbers import with_check_character
from residents.importing import COLUMNS
from residents.models import AbilityAssessment, Elder, ElderCategory
from servicelist.models import (
    HomeAdaptation,
    HomeCareBed,
    MealPoint,
    SatisfactionSurvey,
    ServiceDelivery,
    ServiceItem,
)
from subsidies.choices import BatchKind, BatchState
from subsidies.insurers import register_insurer, set_insurance_cover
from subsidies.models import (
    AllowanceRun,
    CorrectionJob,
    FacilitySubsidy,
    InsuranceCover,
    Insurer,
    PayeeAccount,
    PaymentBatch,
    Scheme,
    StarSubsidyRate,
)
from tests.factories import (
    BedFactory,
    CaregiverFactory,
    ElderFactory,
    FacilityFactory,
    credit_code,  # valid codes (GB 32100-2015)
)
from tests.subsidies.conftest import card_number_for
from visits import services as visit_services
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker

PROJECT_APPS = ("regions", "residents", "facilities", "visits", "subsidies", "servicelist")
ROLES = ["bureau", "auditor", "street", "finance", "institution", "nobody", "superuser"]
INSIDE = "cuiyuan"
OUTSIDE = {
    "street": "beishan",
    "institution": "beishan",
    "bureau": "ningbo",
    "finance": "ningbo",
    "auditor": "ningbo",
    "nobody": "ningbo",
    "superuser": "ningbo",
}
STARTED = datetime.date(2024, 1, 1)
CORRECTED_START = datetime.date(2023, 12, 1)  # a stay's admission date put right
ON = "2024-06-01"
PERIOD = datetime.date(2024, 5, 1)
# Refusals: bad input naming the field (400), forbidden (403), not found (404).
REFUSED = (400, 403, 404)
# The county's approval of a placement in institutional care decides a payment: only the
# civil-affairs bureau records it (docs/policy.md §1 nursing subsidy).
PLACEMENT_IS_THE_BUREAUS = "the county's approval is the civil-affairs bureau's decision"


# --- the world: three places, each with the same records ---------------------------------------


def region(code):
    return Region.objects.get(code=code)


@dataclass
class Place:
    key: str
    county: Region
    street: Region
    community: Region
    facility: Facility
    elder: Elder  # lives here, stays at the facility
    newcomer: Elder  # lives here, no stay, no application
    applicant: Elder  # lives here, waiting for the facility
    stay: Stay
    free_bed: Bed
    room: Room
    application: Application
    task: FollowUpTask  # needs follow-up
    death_report: FollowUpTask
    assignment: VisitWorker
    batch: PaymentBatch
    caregiver: Caregiver
    employment: Employment
    rating: Rating
    contract: ChainContract
    star_rate: StarSubsidyRate
    scheme: Scheme
    policy_value: PolicyValue
    health_check: object


_serial = iter(range(10_000))


def fresh_number() -> str:
    """An ID number registered nowhere yet."""
    n = next(_serial)
    return with_check_character(f"330106195{n // 1000:01d}0101{n % 1000:03d}")


def _ningbo_divisions():
    """Ningbo's tree holds no streets in the demonstration data: one street and community, so
    that every record has a place there too."""
    ningbo = region("330203")
    street, _ = Region.objects.get_or_create(
        code="330203001",
        defaults={"name": "测试街道", "level": RegionLevel.STREET, "parent": ningbo},
    )
    community, _ = Region.objects.get_or_create(
        code="330203001001",
        defaults={"name": "测试社区", "level": RegionLevel.COMMUNITY, "parent": street},
    )
    # The rulebook's district values of Xihu (caps, ratios) for Ningbo too: outside writes are
    # refused for their scope, never for a value the rulebook leaves unset.
    rows = []
    for row in PolicyValue.objects.filter(region__code="330106"):
        row.pk, row.region = None, ningbo
        rows.append(row)
    PolicyValue.objects.bulk_create(rows)
    return ningbo, street, community


def _place(key, county, street, community, worker) -> Place:
    facility = FacilityFactory(name=f"{community.name}养老院", region=street, is_for_profit=True)
    occupied = BedFactory(facility=facility, label="1-1")
    free_bed = BedFactory(facility=facility, label="1-2", room=occupied.room)

    def elder(name):
        made = ElderFactory(
            id_number=fresh_number(), name=name, hukou_region=community, residence_region=community
        )
        resident_services.set_category(elder=made, category="living_alone", start_date=STARTED)
        return made

    resident = elder(f"{key}在住")
    stay = facility_services.admit_to_bed(elder=resident, bed=occupied, start_date=STARTED)
    applicant = elder(f"{key}轮候")
    application = facility_services.apply_for_place(
        facility=facility, elder=applicant, applied_on=STARTED
    )
    assignment = visit_services.assign_worker(user=worker, area=community, start_date=STARTED)

    def task(outcome):
        result = visit_services.record_visit(
            uuid=uuid.uuid4(),
            elder=resident,
            worker=worker,
            visited_at=datetime.datetime(2024, 5, 2, 10, tzinfo=datetime.UTC),
            mode="home",
            outcome=outcome,
        )
        return FollowUpTask.objects.get(visit=result.visit)

    caregiver = CaregiverFactory(name=f"{key}护理员")
    employment = facility_services.employ_caregiver(
        caregiver=caregiver, facility=facility, start_date=STARTED
    )
    scheme = Scheme.objects.filter(jurisdiction=county).first()
    if scheme is None:  # Ningbo: a scheme of its own, as Xihu's
        scheme = Scheme.objects.filter(jurisdiction__code="330106").first()
        scheme.pk, scheme.code, scheme.jurisdiction = None, f"test_{county.code}", county
        scheme.save()
    return Place(
        key=key,
        county=county,
        street=street,
        community=community,
        facility=facility,
        elder=resident,
        newcomer=elder(f"{key}新人"),
        applicant=applicant,
        stay=stay,
        free_bed=free_bed,
        room=occupied.room,
        application=application,
        task=task("needs_follow_up"),
        death_report=task("deceased"),
        assignment=assignment,
        batch=PaymentBatch.objects.get_or_create(
            region=county, period=PERIOD, kind=BatchKind.REGULAR
        )[0],
        caregiver=caregiver,
        employment=employment,
        rating=facility_services.record_rating(
            facility=facility, stars=3, rated_on=datetime.date(2023, 1, 1)
        ),
        contract=ChainContract.objects.filter(county=county).first()
        or facility_services.create_chain_contract(
            county=county,
            operator="连锁运营方",
            zone_count=3,
            zone_number=1,
            start_date=STARTED,
            end_date=datetime.date(2025, 12, 31),
        ),
        star_rate=StarSubsidyRate.objects.get_or_create(
            jurisdiction=county,
            stars=3,
            effective_from=datetime.date(2024, 2, 1),  # Xihu's table starts in February
            defaults={"amount": 1000},
        )[0],
        scheme=scheme,
        policy_value=PolicyValue.objects.filter(region=county).order_by("pk").first(),
        health_check=visit_services.record_health_check(
            elder=resident, checked_on=datetime.date(2024, 3, 1)
        ),
    )


@pytest.fixture
def world(rulebook):
    from subsidies.schemes import load_schemes

    load_schemes()
    worker = User.objects.create_user("field-worker")
    ningbo, ningbo_street, ningbo_community = _ningbo_divisions()
    xihu = region("330106")
    return {
        "cuiyuan": _place("cuiyuan", xihu, region("330106004"), region("330106004001"), worker),
        "beishan": _place("beishan", xihu, region("330106001"), region("330106001001"), worker),
        "ningbo": _place("ningbo", ningbo, ningbo_street, ningbo_community, worker),
    }


def make_user(name, world):
    if name == "superuser":
        return User.objects.create_superuser(username=name, password="x")
    user = User.objects.create_user(username=name, password="x", is_staff=True)
    # Every permission of the project apps: what is tested here is the scope, not the
    # permissions a role's group would hold.
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    home = world[INSIDE]
    grants = {
        "bureau": {"role": Role.BUREAU, "region": home.county},
        "auditor": {"role": Role.AUDITOR, "region": home.county},
        "street": {"role": Role.STREET_WORKER, "region": home.street},
        "finance": {"role": Role.FINANCE, "region": home.county},
        "institution": {"role": Role.INSTITUTION_STAFF, "facility": home.facility},
    }
    if name in grants:
        RoleAssignment.objects.create(user=user, **grants[name])
    if name == "street":
        # Visits are logged by the workers assigned to an area, whatever their role.
        visit_services.assign_worker(user=user, area=home.community, start_date=STARTED)
    return User.objects.get(pk=user.pk)


class _Undo(Exception):
    pass


@contextmanager
def undone():
    """Each attempt starts from the same world: its writes are rolled back after."""
    try:
        with transaction.atomic():
            yield
            raise _Undo
    except _Undo:
        pass


def fresh(obj):
    return type(obj)._default_manager.get(pk=obj.pk)


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """One write: ``attempt(client, place, world)`` tries it on ``place`` and returns the
    response and a check of whether it was written. ``may``: the roles that write it inside
    their own scope; ``why``: why the others are refused even there. ``superuser``: whether a
    superuser writes it (visits are logged by the assigned worker, whoever it is)."""

    attempt: Callable
    may: frozenset[str]
    why: str = ""
    superuser: bool = True
    refused: tuple[int, ...] = REFUSED
    # Roles whose scope holds the record wherever it is placed (an institution's facility and
    # residents): moving it does not take it out of their scope.
    anywhere: frozenset[str] = frozenset()


def rule(attempt, may, why="", **options) -> Write:
    return Write(attempt, frozenset(may), why, **options)


def _errors_of(response) -> str:
    """The form errors or messages of a refused attempt, to say why in a failure."""
    context = getattr(response, "context", None) or {}
    found = []
    for name in ("adminform", "form"):
        form = context.get(name)
        form = getattr(form, "form", form)
        if form is not None and getattr(form, "errors", None):
            found.append(str(dict(form.errors)))
    for inline in context.get("inline_admin_formsets", []):
        errors = [e for e in inline.formset.errors if e] + list(inline.formset.non_form_errors())
        found += [str(e) for e in errors]
    found += [str(m) for m in context.get("messages", [])]
    if not found and getattr(response, "data", None) is not None:
        found.append(str(response.data))
    return "; ".join(found)[:300]


def check_matrix(client, world, role, writes):
    problems = []
    for key, write in writes.items():
        for where in ("inside", "outside"):
            place = world[INSIDE if where == "inside" else OUTSIDE[role]]
            if role == "superuser":
                allowed = write.superuser
            elif role in write.anywhere:
                allowed = True
            else:
                allowed = where == "inside" and role in write.may
            with undone():
                try:
                    response, written = write.attempt(client, place, world)
                    done = written()
                except Exception as error:  # reported with the others, never hidden
                    problems.append(f"{key} {where}: {type(error).__name__}: {error}")
                    continue
            status = response.status_code
            if allowed and not done:
                problems.append(f"{key} {where}: {_errors_of(response)}")
            if status >= 500:
                problems.append(f"{key} {where}: {status}")
            elif allowed and not (done and status < 400):
                problems.append(f"{key} {where}: refused ({status}), should be written")
            elif not allowed and (done or status not in (*write.refused, 302, 200)):
                problems.append(f"{key} {where}: written ({status}), should be refused")
    return problems


# --- 1. the API ---------------------------------------------------------------------------------

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Endpoints that take POST but write nothing of an area.
API_WITHOUT_WRITES = {
    ("POST", "/api/auth/token/"): "signing in: a token for the user's own account",
    ("POST", "/api/residents/elders/lookup/"): "a search by ID number in the body, read only",
}


def _service_item(region, number=90):
    """An item of a service list (the catalogue is loaded by its own tests): one delivered in
    kind, for every elder, in force from 2024."""
    item, _ = ServiceItem.objects.get_or_create(
        region=Region.objects.get(code="330000") if number == 4 else region,
        number=number,
        effective_from=datetime.date(2022, 12, 6) if number == 4 else STARTED,
        defaults={
            "name": "测试项目",
            "name_en": "Test item",
            "target_group": "老年人",
            "content": "测试",
            "kind": "in_kind",
            "reached_through": "delivery",
            "condition": {"age_at_least": 60},
            "citation": "测试文件 清单1",
        },
    )
    return item


def _record_item(kind, number):
    """A province item keeping its own record (``kind``) beside its deliveries, for everyone."""
    item, _ = ServiceItem.objects.get_or_create(
        region=Region.objects.get(code="330000"),
        number=number,
        effective_from=datetime.date(2022, 12, 6),
        defaults={
            "name": "测试项目",
            "name_en": "Test item",
            "target_group": "老年人",
            "content": "测试",
            "kind": "in_kind",
            "reached_through": "delivery",
            "record_kind": kind,
            "condition": {"age_at_least": 60},
            "citation": "测试文件 清单1",
        },
    )
    return item


def _adaptation(place):
    adaptation, _ = HomeAdaptation.objects.get_or_create(
        elder=place.elder, item=_record_item("adaptation", 81), defaults={"applied_on": STARTED}
    )
    return adaptation


def _home_care_bed(place):
    bed, _ = HomeCareBed.objects.get_or_create(
        elder=place.elder,
        item=_record_item("home_care_bed", 82),
        defaults={"provider_name": "护理站", "set_up_on": STARTED},
    )
    return bed


def _meal_point(place):
    point, _ = MealPoint.objects.get_or_create(
        region=place.community,
        name=f"{place.community.name}助餐点",
        defaults={"kind": "meal_point", "opened_on": STARTED},
    )
    return point


def api_writes():
    return {
        (method, path)
        for path, _regex, method, _callback in EndpointEnumerator().get_api_endpoints()
        if method in WRITE_METHODS
    }


def _api(client, method, url, body=None):
    return getattr(client, method.lower())(url, body or {}, content_type="application/json")


def _post(url_of, body_of, written_of):
    """An attempt posting ``body_of(place, world)`` to ``url_of(place)``; ``written_of(place,
    world, response)`` says whether it was written."""

    def attempt(client, place, world):
        response = _api(client, "POST", url_of(place), body_of(place, world))
        return response, lambda: written_of(place, world, response)

    return attempt


def _new_elder_body(place, world):
    place.new_number = fresh_number()
    return {
        "id_number": place.new_number,
        "name": "新登记老人",
        "hukou_region": place.community.code,
        "residence_region": place.community.code,
    }


def _visit_body(place, world):
    place.visit_uuid = str(uuid.uuid4())
    return {
        "uuid": place.visit_uuid,
        "elder": place.elder.pk,
        "visited_at": "2024-06-01T10:00:00+08:00",
        "mode": "home",
        "outcome": "seen_well",
    }


INSTITUTION_ELDERS = (
    "an institution reaches an elder once they stay there or have applied (applications are "
    "made by the street office or the bureau)"
)
AREA_WORK = "area work (street offices and bureaus), not an institution's"
PAYING = "paying is finance's work (subsidies.permissions)"
SURVEYS = (
    "an elder's answer to a satisfaction survey is recorded where the elder lives, by the "
    "street office or the bureau, never by the institution surveyed: " + AREA_WORK
)
SUBSIDY_DATA = "subsidy data is the work of finance and the bureau of the region"
STAR_TABLE = "the star-subsidy table is the bureau's; finance reads it (subsidies.permissions)"

API_WRITES = {
    ("POST", "/api/residents/elders/"): rule(
        _post(
            lambda p: "/api/residents/elders/",
            _new_elder_body,
            lambda p, w, r: Elder.objects.filter(id_number=p.new_number).exists(),
        ),
        {"bureau", "street", "institution"},
        # An institution registers the newcomer it is about to admit, from wherever they come
        # (residents.services.registers_for_admission).
        anywhere=frozenset({"institution"}),
    ),
    ("POST", "/api/residents/elders/{id}/record-death/"): rule(
        _post(
            lambda p: f"/api/residents/elders/{p.elder.pk}/record-death/",
            lambda p, w: {"death_date": ON},
            lambda p, w, r: fresh(p.elder).death_date is not None,
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/residents/assessments/"): rule(
        _post(
            lambda p: "/api/residents/assessments/",
            lambda p, w: {
                "elder": p.elder.pk,
                "assessed_on": ON,
                "assessor": "评估员",
                **{item.field: 0 for item in ITEMS},
            },
            lambda p, w, r: AbilityAssessment.objects.filter(elder=p.elder).exists(),
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/facilities/stays/"): rule(
        _post(
            lambda p: "/api/facilities/stays/",
            lambda p, w: {"elder": p.newcomer.pk, "bed": p.free_bed.pk, "start_date": ON},
            lambda p, w, r: Stay.objects.filter(elder=p.newcomer).exists(),
        ),
        {"bureau", "street"},
        INSTITUTION_ELDERS,
    ),
    ("POST", "/api/facilities/stays/{id}/discharge/"): rule(
        _post(
            lambda p: f"/api/facilities/stays/{p.stay.pk}/discharge/",
            lambda p, w: {"end_date": ON},
            lambda p, w, r: fresh(p.stay).end_date is not None,
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/facilities/stays/{id}/placement-approval/"): rule(
        _post(
            lambda p: f"/api/facilities/stays/{p.stay.pk}/placement-approval/",
            lambda p, w: {
                "approved_on": ON,
                "approval_number": "民批〔2024〕1号",
                "approved_by": p.county.code,
            },
            lambda p, w, r: fresh(p.stay).placement_approved_on is not None,
        ),
        {"bureau"},
        PLACEMENT_IS_THE_BUREAUS,
    ),
    ("POST", "/api/facilities/stays/{id}/transfer/"): rule(
        _post(
            lambda p: f"/api/facilities/stays/{p.stay.pk}/transfer/",
            lambda p, w: {"to_bed": p.free_bed.pk, "on": ON},
            lambda p, w, r: Stay.objects.filter(elder=p.elder, bed=p.free_bed).exists(),
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/facilities/stays/{id}/correct/"): rule(
        _post(
            lambda p: f"/api/facilities/stays/{p.stay.pk}/correct/",
            lambda p, w: {"start_date": CORRECTED_START.isoformat(), "reason": "日期有误"},
            lambda p, w, r: fresh(p.stay).start_date == CORRECTED_START,
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/facilities/applications/"): rule(
        _post(
            lambda p: "/api/facilities/applications/",
            lambda p, w: {"facility": p.facility.pk, "elder": p.newcomer.pk, "applied_on": ON},
            lambda p, w, r: Application.objects.filter(elder=p.newcomer).exists(),
        ),
        {"bureau", "street"},
        INSTITUTION_ELDERS,
    ),
    ("POST", "/api/facilities/applications/{id}/offer/"): rule(
        _post(
            lambda p: f"/api/facilities/applications/{p.application.pk}/offer/",
            lambda p, w: {"bed": p.free_bed.pk, "on": ON},
            lambda p, w, r: fresh(p.application).status == "offered",
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/facilities/applications/{id}/admit/"): rule(
        _post(
            lambda p: f"/api/facilities/applications/{p.application.pk}/admit/",
            lambda p, w: {"bed": p.free_bed.pk, "on": ON},
            lambda p, w, r: Stay.objects.filter(elder=p.applicant).exists(),
        ),
        {"bureau", "street", "institution"},
    ),
    ("POST", "/api/visits/visits/"): rule(
        _post(
            lambda p: "/api/visits/visits/",
            _visit_body,
            lambda p, w, r: Visit.objects.filter(uuid=p.visit_uuid).exists(),
        ),
        {"street"},
        "a visit is logged by the worker assigned to the elder's area (VisitWorker)",
        superuser=False,
    ),
    ("POST", "/api/visits/visits/batch/"): rule(
        _post(
            lambda p: "/api/visits/visits/batch/",
            lambda p, w: {"visits": [_visit_body(p, w)]},
            lambda p, w, r: Visit.objects.filter(uuid=p.visit_uuid).exists(),
        ),
        {"street"},
        "a visit is logged by the worker assigned to the elder's area (VisitWorker)",
        superuser=False,
        # A batch answers 200 with each visit's fate: a refused one is "rejected" in it.
        refused=(200, *REFUSED),
    ),
    ("POST", "/api/visits/tasks/{pk}/close/"): rule(
        _post(
            lambda p: f"/api/visits/tasks/{p.task.pk}/close/",
            lambda p, w: {"resolution": "已上门处理", "status": "done"},
            lambda p, w, r: fresh(p.task).status == "done",
        ),
        {"bureau", "street"},
        AREA_WORK,
    ),
    ("POST", "/api/visits/tasks/{pk}/confirm-death/"): rule(
        _post(
            lambda p: f"/api/visits/tasks/{p.death_report.pk}/confirm-death/",
            lambda p, w: {"death_date": ON},
            lambda p, w, r: fresh(p.elder).death_date is not None,
        ),
        {"bureau", "street"},
        AREA_WORK,
    ),
    ("POST", "/api/visits/health-checks/"): rule(
        _post(
            lambda p: "/api/visits/health-checks/",
            lambda p, w: {"elder": p.elder.pk, "checked_on": ON},
            lambda p, w, r: HealthCheck.objects.filter(elder=p.elder, checked_on=ON).exists(),
        ),
        {"bureau", "street"},
        "health checks belong to where the elder lives, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/deliveries/"): rule(
        _post(
            lambda p: "/api/servicelist/deliveries/",
            lambda p, w: {
                "item": _service_item(p.county, 4).code,
                "id_number": p.elder.id_number,
                "date": ON,
                "provider": p.facility.code,
                "quantity": "1",
            },
            lambda p, w, r: ServiceDelivery.objects.filter(elder=p.elder).exists(),
        ),
        {"bureau", "street"},
        "deliveries are recorded for the elders of an area, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/surveys/"): rule(
        _post(
            lambda p: "/api/servicelist/surveys/",
            lambda p, w: {
                "item": _service_item(p.county, 4).code,
                "id_number": p.elder.id_number,
                "date": ON,
                "score": 4,
                "comment": "满意",
            },
            lambda p, w, r: SatisfactionSurvey.objects.filter(elder=p.elder).exists(),
        ),
        {"bureau", "street"},
        SURVEYS,
    ),
    ("POST", "/api/servicelist/meal-points/"): rule(
        _post(
            lambda p: "/api/servicelist/meal-points/",
            lambda p, w: {
                "name": "新助餐点",
                "kind": "meal_point",
                "region": p.community.code,
                "opened_on": ON,
            },
            lambda p, w, r: MealPoint.objects.filter(region=p.community, name="新助餐点").exists(),
        ),
        {"bureau", "street"},
        "meal points are registered in the areas they serve, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/adaptations/"): rule(
        _post(
            lambda p: "/api/servicelist/adaptations/",
            lambda p, w: {
                "item": _record_item("adaptation", 81).code,
                "elder": p.newcomer.pk,
                "applied_on": ON,
            },
            lambda p, w, r: HomeAdaptation.objects.filter(elder=p.newcomer).exists(),
        ),
        {"bureau", "street"},
        "an adaptation is applied for where the elder lives, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/adaptations/{id}/assess/"): rule(
        _post(
            lambda p: f"/api/servicelist/adaptations/{_adaptation(p).pk}/assess/",
            lambda p, w: {"assessed_on": ON, "approved": True},
            lambda p, w, r: fresh(_adaptation(p)).assessed_on is not None,
        ),
        {"bureau", "street"},
        "an adaptation is assessed where the elder lives, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/home-care-beds/"): rule(
        _post(
            lambda p: "/api/servicelist/home-care-beds/",
            lambda p, w: {
                "item": _record_item("home_care_bed", 82).code,
                "elder": p.newcomer.pk,
                "provider": p.facility.code,
                "set_up_on": ON,
            },
            lambda p, w, r: HomeCareBed.objects.filter(elder=p.newcomer).exists(),
        ),
        {"bureau", "street"},
        "a home-care bed is set up where the elder lives, " + AREA_WORK,
    ),
    ("POST", "/api/servicelist/home-care-beds/{id}/close/"): rule(
        _post(
            lambda p: f"/api/servicelist/home-care-beds/{_home_care_bed(p).pk}/close/",
            lambda p, w: {"closed_on": ON},
            lambda p, w, r: fresh(_home_care_bed(p)).closed_on is not None,
        ),
        {"bureau", "street"},
        "a home-care bed is closed where the elder lives, " + AREA_WORK,
    ),
    ("POST", "/api/subsidies/runs/"): rule(
        _post(
            lambda p: "/api/subsidies/runs/",
            lambda p, w: {"region": p.county.code, "period": "2024-04"},
            lambda p, w, r: AllowanceRun.objects.filter(region=p.county).exists(),
        ),
        {"bureau", "finance"},
        SUBSIDY_DATA,
    ),
    ("POST", "/api/subsidies/batches/{id}/approve/"): rule(
        _post(
            lambda p: f"/api/subsidies/batches/{p.batch.pk}/approve/",
            lambda p, w: {},
            lambda p, w, r: fresh(p.batch).state == BatchState.APPROVED,
        ),
        {"finance"},
        PAYING,
    ),
    ("POST", "/api/subsidies/payee-accounts/"): rule(
        _post(
            lambda p: "/api/subsidies/payee-accounts/",
            lambda p, w: {
                "elder": p.elder.pk,
                "account_channel": "bank_card",
                "bank": "测试银行",
                "account_number": card_number_for(next(_serial)),
            },
            lambda p, w, r: PayeeAccount.objects.filter(elder=p.elder).exists(),
        ),
        {"bureau", "finance"},
        "an elder's account is paying data: finance's and the bureau's of the elder's area",
    ),
    ("POST", "/api/subsidies/facility-subsidies/"): rule(
        _post(
            lambda p: "/api/subsidies/facility-subsidies/",
            lambda p, w: {
                "facility": p.facility.pk,
                "kind": "liability_insurance",
                "year": 2024,
                "premium": "600",
            },
            lambda p, w, r: FacilitySubsidy.objects.filter(facility=p.facility).exists(),
        ),
        {"bureau", "finance"},
        SUBSIDY_DATA,
    ),
    ("POST", "/api/subsidies/star-rates/"): rule(
        _post(
            lambda p: "/api/subsidies/star-rates/",
            lambda p, w: {
                "jurisdiction": p.county.code,
                "stars": 4,
                "amount": "1000",
                "effective_from": "2024-02-01",
            },
            lambda p, w, r: StarSubsidyRate.objects.filter(jurisdiction=p.county, stars=4).exists(),
        ),
        {"bureau"},
        STAR_TABLE,
    ),
    ("POST", "/api/regions/policy-values/{id}/revise/"): rule(
        _post(
            lambda p: f"/api/regions/policy-values/{p.policy_value.pk}/revise/",
            lambda p, w: {"note": "接口修订", "reason": "测试修订"},
            lambda p, w, r: fresh(p.policy_value).note == "接口修订",
        ),
        {"bureau"},
        "the rulebook is the bureau's, each its own region's (regions.services)",
    ),
}


def _template(path: str) -> str:
    """/api/x/{pk}/y/ and /api/x/{id}/y/ are one endpoint."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_api_write_has_a_rule():
    discovered = {(m, _template(p)) for m, p in api_writes()}
    ruled = {(m, _template(p)) for m, p in [*API_WRITES, *API_WITHOUT_WRITES]}
    assert discovered - ruled == set(), "API writes without a rule in test_write_matrix.py"
    assert ruled - discovered == set(), "rules for API writes that no longer exist"


@pytest.mark.parametrize("role", ROLES)
def test_api_writes_stay_inside_the_roles_scope(world, role, client):
    client.force_login(make_user(role, world))
    problems = check_matrix(client, world, role, API_WRITES)
    assert not problems, "\n".join(problems)


# --- 2. the admin -------------------------------------------------------------------------------

# Admin pages that are not area data: users, groups, tokens, schedules, lockouts, the audit trail.
ADMIN_WITHOUT_SCOPE = {"auth", "authtoken", "django_celery_beat", "axes", "accounts"}
# URL names every ModelAdmin has: the list, the forms (ruled as add and change), history.
STANDARD_URLS = ("changelist", "add", "change", "delete", "history", "autocomplete")


def _superuser_request():
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User(username="root", is_superuser=True, is_staff=True, is_active=True)
    return request


def admin_writes() -> set[tuple[str, str]]:
    """Every admin form, inline, action and own page, as (model label, what)."""
    request = _superuser_request()
    found = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in ADMIN_WITHOUT_SCOPE:
            continue
        label = model._meta.label
        if model_admin.has_add_permission(request):
            found.add((label, "add"))
        if model_admin.has_change_permission(request):
            found.add((label, "change"))
        for inline in model_admin.get_inline_instances(request):
            if _inline_writes(inline, request):
                found.add((label, f"inline:{type(inline).__name__}"))
        found.update((label, f"action:{name}") for name in model_admin.get_actions(request))
        for url in model_admin.get_urls():
            if url.name and not url.name.endswith(STANDARD_URLS):
                found.add((label, f"page:{url.name}"))
    return found


def _inline_writes(inline, request) -> bool:
    """An inline writes when it adds rows or its rows have a field left to edit."""
    if inline.has_add_permission(request, None):
        return True
    if not inline.has_change_permission(request):
        return False
    form = inline.get_formset(request, None).form
    return any(name not in ("id", "DELETE", inline.fk_name) for name in form.base_fields)


def _value(bound):
    value = bound.value()
    field = bound.field
    if isinstance(field.widget, forms.MultiWidget):
        return None  # none of the project's admin forms edits one
    if isinstance(field, forms.BooleanField):
        return "on" if value else None
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return [str(getattr(v, "pk", v)) for v in value or []]
    if isinstance(value, list | tuple):
        return [str(getattr(v, "pk", v)) for v in value]
    if value is None:
        return ""
    return str(getattr(value, "pk", value))


def rendered(client, url) -> dict:
    """What a browser sends back for an admin form page as rendered (the form, its inlines and
    their management forms): the base of every crafted POST below."""
    page = client.get(url)
    assert page.status_code == 200, f"{url}: {page.status_code}"
    data = {"_save": "保存"}
    forms_ = [page.context["adminform"].form]
    for inline in page.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        forms_.extend(formset.forms)
    for form in forms_:
        for name in form.fields:
            value = _value(form[name])
            if value is not None:
                data[form.add_prefix(name)] = value
    return data


def _url(model, what, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{what}", args=args)


def _root(world):
    """A superuser's client, to render the pages an attacker would post to."""
    from django.test import Client

    if "root" not in world:
        root = User.objects.filter(username="root").first() or User.objects.create_superuser(
            "root", password="x"
        )
        world["root"] = Client()
        world["root"].force_login(root)
    return world["root"]


def add_rule(model, data_of, created, may, why="", **options) -> Write:
    """The add form of ``model`` posted with ``data_of(place, world)`` over its rendering."""

    def attempt(client, place, world):
        url = _url(model, "add")
        data = {**rendered(_root(world), url), **data_of(place, world)}
        response = client.post(url, data)
        return response, lambda: created(place, world)

    return rule(attempt, may, why, **options)


def change_rule(model, record_of, marker, may, why="", **options) -> Write:
    """The change form of ``record_of(place)`` posted back as rendered with ``marker`` (field →
    value) changed: written when the record holds the marker (with no marker, when the save
    left a history row)."""

    def attempt(client, place, world):
        record = record_of(place)
        url = _url(model, "change", record.pk)
        changes = marker(place, world) if callable(marker) else marker
        data = {**rendered(_root(world), url), **changes}
        versions = record.history.count() if not changes else 0
        response = client.post(url, data)

        def written():
            if not changes:
                return record.history.count() > versions
            now = model_to_dict(fresh(record))
            return all(_same(now[f], v) for f, v in changes.items() if f in now)

        return response, written

    return rule(attempt, may, why, **options)


def _same(stored, posted) -> bool:
    return ("" if stored is None else str(stored)) == str(posted)


def move_rule(model, record_of, places, marker, may, **options) -> Write:
    """The change form of the 翠苑 record posted with the fields that place it set to the
    place's values (``places(place)``): moving a record out of the writer's scope is refused
    like writing one outside it."""

    def attempt(client, place, world):
        record = record_of(world[INSIDE])
        url = _url(model, "change", record.pk)
        changes = {**marker, **places(place)}
        data = {**rendered(_root(world), url), **changes}
        response = client.post(url, data)

        def written():
            now = model_to_dict(fresh(record))
            return all(_same(now[f], v) for f, v in changes.items())

        return response, written

    return rule(attempt, may, **options)


def action_rule(model, action, record_of, effect, may, why="", extra=None, **options) -> Write:
    """The changelist action ``action`` on ``record_of(place, world)`` (a record made for the
    attempt, or one of the place's)."""

    def attempt(client, place, world):
        record = record_of(place, world)
        data = {"action": action, "_selected_action": [record.pk], "index": "0", **(extra or {})}
        response = client.post(_url(model, "changelist"), data)
        return response, lambda: effect(record)

    return rule(attempt, may, why, **options)


def page_rule(model, url_name, url_args, data_of, effect, may, why="", **options) -> Write:
    """One of an admin's own pages that writes, posted with ``data_of(place, world)``."""

    def attempt(client, place, world):
        url = reverse(f"admin:{url_name}", args=url_args(place))
        response = client.post(url, data_of(place, world))
        return response, lambda: effect(place, world)

    return rule(attempt, may, why, **options)


def deleted(record) -> bool:
    return not type(record)._default_manager.filter(pk=record.pk).exists()


def delete_rule(model, make, may, why="") -> Write:
    """delete_selected (confirmed) on a record made for the attempt at the place."""
    return action_rule(model, "delete_selected", make, deleted, may, why, extra={"post": "yes"})


# Who writes what in the admin (by accounts/rules.py): the bureau its district; the street
# office residents, visits and facilities of its street; the institution its facility and the
# elders staying there; finance its district's subsidies.
AREA = {"bureau", "street"}
FACILITY = {"bureau", "street", "institution"}
RESIDENT = {"bureau", "street", "institution"}
SUBSIDY = {"bureau", "finance"}
BUREAU = {"bureau"}
NOT_INSTITUTION = (
    "an institution reaches an elder once staying there, a record of an area never: " + AREA_WORK
)
DISTRICT = "a county's record: the bureau's (and finance's for subsidies), not a street's"
REFERENCE = "reference data (the tree, the rulebook): each bureau keeps its own region's"


def _new_region(place, world):
    return {
        "code": f"{place.street.code}9{next(_serial) % 100:02d}",
        "name": "新社区",
        "level": RegionLevel.COMMUNITY,
        "parent": place.street.pk,
        "is_active": "on",
    }


def _new_elder(place, world):
    place.new_number = fresh_number()
    return {
        "id_number": place.new_number,
        "name": "新登记老人",
        "hukou_region": place.community.pk,
        "residence_region": place.community.pk,
        "phone": "",
        "pension_type": "none",
    }


def _import(place, world):
    place.new_number = fresh_number()
    content = (
        ",".join(COLUMNS)
        + f"\n{place.new_number},导入老人,{place.community.code},{place.community.code},,,,\n"
        + f"{place.elder.id_number},改名老人,{place.community.code},{place.community.code},,,,\n"
    ).encode()
    return {"file": SimpleUploadedFile("elders.csv", content, "text/csv")}


def _imported(place, world):
    """Written: the new row or the changed one went in, through the preview and confirm (the
    import may run as a job; either way the registry is what is checked)."""
    return Elder.objects.filter(id_number=place.new_number).exists() or (
        fresh(place.elder).name == "改名老人"
    )


def _import_attempt(client, place, world):
    """Upload, then confirm: the check and the import may run as tasks after their commit, as
    on a worker (each step's queued work runs before the next)."""
    url = _url(Elder, "import")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, _import(place, world), follow=True)
    context = response.context or {}
    confirm = {"confirm": "1"}
    if "token" in context:
        confirm["token"] = context["token"]
        target = url
    elif "job" in context:
        target = f"{url}{context['job'].pk}/"
    else:
        return response, lambda: _imported(place, world)
    with TestCase.captureOnCommitCallbacks(execute=True):
        confirmed = client.post(target, confirm, follow=True)
    return confirmed, lambda: _imported(place, world)


def _made_elder(place, world):
    return ElderFactory(
        id_number=fresh_number(),
        hukou_region=place.community,
        residence_region=place.community,
    )


def _made_region(place, world):
    return Region.objects.create(
        code=f"{place.street.code}8{next(_serial) % 100:02d}",
        name="待撤销社区",
        level=RegionLevel.COMMUNITY,
        parent=place.street,
    )


def _made_facility(place, world):
    return FacilityFactory(region=place.street)


def _made_building(place, world):
    return Building.objects.create(facility=place.facility, name="新楼")


def _made_floor(place, world):
    return Floor.objects.create(building=place.room.floor.building, number=9)


def _made_room(place, world):
    return Room.objects.create(floor=place.room.floor, number="999")


def _made_bed(place, world):
    return facility_services.create_bed(facility=place.facility, room=place.room, label="9-9")


def _made_application(place, world):
    return facility_services.apply_for_place(
        facility=place.facility, elder=place.newcomer, applied_on=STARTED
    )


def _made_caregiver(place, world):
    caregiver = CaregiverFactory()
    facility_services.employ_caregiver(
        caregiver=caregiver, facility=place.facility, start_date=STARTED
    )
    return caregiver


def _made_contract(place, world):
    return facility_services.create_chain_contract(
        county=place.county,
        operator="新运营方",
        zone_count=3,
        zone_number=2,
        start_date=STARTED,
        end_date=datetime.date(2025, 12, 31),
    )


def _failed_run(place, world):
    """A run of the place's county that failed after it was planned, as a worker's death leaves
    one (its chunks unfinished)."""
    from subsidies.choices import RunStatus
    from subsidies.run.planning import prepare_run, request_allowance_run

    run = request_allowance_run(region=place.county, period=PERIOD)
    prepare_run(run_id=run.pk)
    AllowanceRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="测试中断")
    return fresh(run)


def _not_failed(run):
    from subsidies.choices import RunStatus

    return fresh(run).status != RunStatus.FAILED


def _failed_job(place, world):
    """A correction job of the place's county that failed after it was planned (its one chunk
    unfinished), as a change to a rate revised backwards leaves one when its worker dies."""
    from django.utils import timezone

    from subsidies.choices import Payee, RunStatus
    from subsidies.models import CorrectionChunk

    job = CorrectionJob.objects.create(
        region=place.county,
        policy_value=PolicyValue.objects.filter(key="longevity_subsidy_100_plus").first(),
        start=PERIOD,
        reason="测试",
        decided_on=PERIOD,
        status=RunStatus.FAILED,
        started_at=timezone.now(),
        error="测试中断",
        chunks_total=1,
    )
    CorrectionChunk.objects.create(job=job, period=PERIOD, payee=Payee.ELDER, id_from=1, id_to=1)
    return job


def _unset_key(county) -> str:
    """A rulebook key the county has no row of (a new row for it overlaps nothing)."""
    from regions.catalog import KEY_CHOICES

    held = set(PolicyValue.objects.filter(region=county).values_list("key", flat=True))
    return next(key for key, _label in KEY_CHOICES if key not in held)


INSURERS = "the insurers a county pays premiums to: its bureau's and finance's, not a street's"


def _insured_scheme(place) -> Scheme:
    """A scheme of the place's county paid to an insurer (Xihu's accident insurance; a copy
    of it for Ningbo)."""
    xihu = Scheme.objects.get(code="xihu_accident_insurance")
    if place.county.code == xihu.jurisdiction.code:
        return xihu
    copy = Scheme.objects.filter(code=f"test_insurance_{place.county.code}").first()
    if copy is None:
        copy = xihu
        copy.pk, copy.code = None, f"test_insurance_{place.county.code}"
        copy.jurisdiction = place.county
        copy.save()
    return copy


def _insurer_of(place) -> Insurer:
    found = Insurer.objects.filter(region=place.county).first()
    return found or register_insurer(
        insurer=Insurer(
            name=f"{place.county.name}承保公司",
            uscc=credit_code(next(_serial)),
            region=place.county,
        )
    )


def _cover_of(place) -> InsuranceCover:
    found = InsuranceCover.objects.filter(region=place.county).first()
    return found or set_insurance_cover(
        cover=InsuranceCover(
            scheme=_insured_scheme(place),
            region=place.county,
            insurer=_insurer_of(place),
            start_date=STARTED,
        )
    )


def _policy_change(place, world):
    return {"note": "修订说明", "change_reason": "测试修订"}


ADMIN_WRITES = {
    # -- the administrative tree and the rulebook
    ("regions.Region", "add"): add_rule(
        Region,
        _new_region,
        lambda p, w: Region.objects.filter(name="新社区", parent=p.street).exists(),
        BUREAU,
        REFERENCE,
    ),
    ("regions.Region", "change"): change_rule(
        Region, lambda p: p.community, {"name": "更名社区"}, BUREAU, REFERENCE
    ),
    ("regions.Region", "action:delete_selected"): delete_rule(
        Region, _made_region, BUREAU, REFERENCE
    ),
    ("regions.PolicyValue", "add"): add_rule(
        PolicyValue,
        lambda p, w: {
            "region": p.county.pk,
            "key": _unset_key(p.county),
            "value": "1",
            "frequency": "",
            "effective_from": "2031-01-01",
            "citation": "测试文件",
            "note": "新增",
            "change_reason": "测试新增",
        },
        lambda p, w: PolicyValue.objects.filter(region=p.county, note="新增").exists(),
        BUREAU,
        REFERENCE,
    ),
    ("regions.PolicyValue", "change"): change_rule(
        PolicyValue, lambda p: p.policy_value, _policy_change, BUREAU, REFERENCE
    ),
    # -- the registry
    ("residents.Elder", "add"): add_rule(
        Elder,
        _new_elder,
        lambda p, w: Elder.objects.filter(id_number=p.new_number).exists(),
        RESIDENT,
        # An institution registers the newcomer it is about to admit, from wherever they come.
        anywhere=frozenset({"institution"}),
    ),
    ("residents.Elder", "change"): change_rule(
        Elder, lambda p: p.elder, {"name": "改名老人"}, RESIDENT
    ),
    ("residents.Elder", "action:delete_selected"): delete_rule(
        Elder, _made_elder, AREA, "a new elder stays nowhere, so no institution reaches them"
    ),
    # Written: the new elder of the place or the change to its resident (an institution may
    # change the elders staying with it; through the import it registers no one).
    ("residents.Elder", "page:residents_elder_import"): rule(_import_attempt, RESIDENT),
    # The import's confirmation is posted to its job's page: the same attempt goes through it.
    ("residents.Elder", "page:residents_elder_import_job"): rule(_import_attempt, RESIDENT),
    ("residents.ElderCategory", "add"): add_rule(
        ElderCategory,
        lambda p, w: {
            "elder": p.elder.pk,
            "category": "empty_nest",
            "start_date": ON,
            "end_date": "",
            "note": "",
        },
        lambda p, w: ElderCategory.objects.filter(elder=p.elder, category="empty_nest").exists(),
        RESIDENT,
    ),
    ("residents.ElderCategory", "change"): change_rule(
        ElderCategory,
        lambda p: ElderCategory.objects.get(elder=p.elder),
        {"note": "备注修改"},
        RESIDENT,
    ),
    # -- facilities
    ("facilities.Facility", "add"): add_rule(
        Facility,
        lambda p, w: {
            "name": "新建养老院",
            "kind": "institution",
            "ownership": "public",
            "region": p.street.pk,
            "licensed_beds": "10",
            "uscc": "",
            "operator": "",
            "address": "",
            "is_active": "on",
            "buildings-TOTAL_FORMS": "0",
            "buildings-INITIAL_FORMS": "0",
        },
        lambda p, w: Facility.objects.filter(name="新建养老院", region=p.street).exists(),
        AREA,
        "an institution runs its own facility, it does not open others",
    ),
    ("facilities.Facility", "change"): change_rule(
        Facility, lambda p: p.facility, {"name": "更名养老院"}, FACILITY
    ),
    ("facilities.Facility", "inline:BuildingInline"): rule(
        lambda client, place, world: _inline_row(
            client,
            world,
            Facility,
            place.facility,
            "buildings",
            {"name": "内联新楼"},
            lambda: Building.objects.filter(facility=place.facility, name="内联新楼").exists(),
        ),
        FACILITY,
    ),
    ("facilities.Facility", "action:delete_selected"): delete_rule(
        Facility, _made_facility, AREA, "an institution does not close facilities"
    ),
    ("facilities.ChainContract", "add"): add_rule(
        ChainContract,
        lambda p, w: {
            "county": p.county.pk,
            "operator": "新签运营方",
            "zone_count": "3",
            "zone_number": "3",
            "zone_name": "",
            "is_government_purchase": "on",
            "start_date": "2024-01-01",
            "end_date": "2025-12-31",
        },
        lambda p, w: ChainContract.objects.filter(operator="新签运营方").exists(),
        BUREAU,
        DISTRICT,
    ),
    ("facilities.ChainContract", "change"): change_rule(
        ChainContract, lambda p: p.contract, {"operator": "改签运营方"}, BUREAU, DISTRICT
    ),
    ("facilities.ChainContract", "action:delete_selected"): delete_rule(
        ChainContract, _made_contract, BUREAU, DISTRICT
    ),
    ("facilities.Rating", "add"): add_rule(
        Rating,
        lambda p, w: {
            "facility": p.facility.pk,
            "scheme": "grade",
            "stars": "4",
            "rated_on": "2024-03-01",
            "score": "",
            "rated_by": "评定组",
        },
        lambda p, w: Rating.objects.filter(facility=p.facility, stars=4).exists(),
        FACILITY,
    ),
    ("facilities.Rating", "change"): change_rule(
        Rating, lambda p: p.rating, {"rated_by": "复核组"}, FACILITY
    ),
    ("facilities.Building", "add"): add_rule(
        Building,
        lambda p, w: {"facility": p.facility.pk, "name": "二号楼"},
        lambda p, w: Building.objects.filter(facility=p.facility, name="二号楼").exists(),
        FACILITY,
    ),
    ("facilities.Building", "change"): change_rule(
        Building, lambda p: p.room.floor.building, {"name": "改名楼"}, FACILITY
    ),
    ("facilities.Building", "action:delete_selected"): delete_rule(
        Building, _made_building, FACILITY
    ),
    ("facilities.Floor", "add"): add_rule(
        Floor,
        lambda p, w: {"building": p.room.floor.building.pk, "number": "7"},
        lambda p, w: Floor.objects.filter(building=p.room.floor.building, number=7).exists(),
        FACILITY,
    ),
    ("facilities.Floor", "change"): change_rule(
        Floor, lambda p: p.room.floor, {"number": "8"}, FACILITY
    ),
    ("facilities.Floor", "action:delete_selected"): delete_rule(Floor, _made_floor, FACILITY),
    ("facilities.Room", "add"): add_rule(
        Room,
        lambda p, w: {
            "floor": p.room.floor.pk,
            "number": "701",
            "beds-TOTAL_FORMS": "0",
            "beds-INITIAL_FORMS": "0",
        },
        lambda p, w: Room.objects.filter(floor=p.room.floor, number="701").exists(),
        FACILITY,
    ),
    ("facilities.Room", "change"): change_rule(Room, lambda p: p.room, {"number": "702"}, FACILITY),
    ("facilities.Room", "inline:BedInline"): rule(
        lambda client, place, world: _inline_row(
            client,
            world,
            Room,
            place.room,
            "beds",
            {"label": "内联床", "bed_type": "general"},
            lambda: Bed.objects.filter(room=place.room, label="内联床").exists(),
        ),
        FACILITY,
    ),
    ("facilities.Room", "action:delete_selected"): delete_rule(Room, _made_room, FACILITY),
    ("facilities.Bed", "add"): add_rule(
        Bed,
        lambda p, w: {
            "facility": p.facility.pk,
            "room": p.room.pk,
            "label": "新床",
            "bed_type": "general",
            "home_address": "",
            "is_active": "on",
        },
        lambda p, w: Bed.objects.filter(facility=p.facility, label="新床").exists(),
        FACILITY,
    ),
    ("facilities.Bed", "change"): change_rule(
        Bed, lambda p: p.free_bed, {"label": "改名床"}, FACILITY
    ),
    ("facilities.Bed", "action:delete_selected"): delete_rule(Bed, _made_bed, FACILITY),
    ("facilities.Stay", "add"): rule(
        lambda client, place, world: (
            client.post(_url(Stay, "add"), {}),
            lambda: Stay.objects.count() > 3,
        ),
        set(),
        "the add page leads to the admission page (page:facilities_stay_admit), writing nothing",
        superuser=False,
    ),
    ("facilities.Stay", "change"): change_rule(Stay, lambda p: p.stay, {}, FACILITY),
    ("facilities.Stay", "action:discharge_today"): action_rule(
        Stay,
        "discharge_today",
        lambda p, w: p.stay,
        lambda s: fresh(s).end_date is not None,
        FACILITY,
    ),
    ("facilities.Stay", "page:facilities_stay_admit"): page_rule(
        Stay,
        "facilities_stay_admit",
        lambda p: [],
        lambda p, w: {
            "bed_code": p.free_bed.code,
            "application": p.application.pk,
            "start_date": ON,
        },
        lambda p, w: Stay.objects.filter(elder=p.applicant).exists(),
        FACILITY,
    ),
    ("facilities.Stay", "page:facilities_stay_discharge"): page_rule(
        Stay,
        "facilities_stay_discharge",
        lambda p: [p.stay.pk],
        lambda p, w: {"end_date": ON},
        lambda p, w: fresh(p.stay).end_date is not None,
        FACILITY,
    ),
    ("facilities.Stay", "page:facilities_stay_correct"): page_rule(
        Stay,
        "facilities_stay_correct",
        lambda p: [p.stay.pk],
        lambda p, w: {"start_date": CORRECTED_START, "bed": p.stay.bed_id, "reason": "日期有误"},
        lambda p, w: fresh(p.stay).start_date == CORRECTED_START,
        FACILITY,
    ),
    ("facilities.Stay", "page:facilities_stay_transfer"): page_rule(
        Stay,
        "facilities_stay_transfer",
        lambda p: [p.stay.pk],
        lambda p, w: {"to_bed": p.free_bed.pk, "on": ON},
        lambda p, w: Stay.objects.filter(elder=p.elder, bed=p.free_bed).exists(),
        FACILITY,
    ),
    ("facilities.Stay", "page:facilities_stay_placement"): page_rule(
        Stay,
        "facilities_stay_placement",
        lambda p: [p.stay.pk],
        lambda p, w: {
            "placement_approved_on": ON,
            "placement_approval_number": "民批〔2024〕1号",
            "placement_approved_by": p.county.pk,
        },
        lambda p, w: fresh(p.stay).placement_approved_on is not None,
        BUREAU,
        PLACEMENT_IS_THE_BUREAUS,
    ),
    ("facilities.Application", "add"): add_rule(
        Application,
        lambda p, w: {
            "facility": p.facility.pk,
            "elder": p.newcomer.pk,
            "applied_on": ON,
            "note": "",
        },
        lambda p, w: Application.objects.filter(elder=p.newcomer).exists(),
        AREA,
        INSTITUTION_ELDERS,
    ),
    ("facilities.Application", "change"): change_rule(
        Application, lambda p: p.application, {"note": "补充材料"}, FACILITY
    ),
    ("facilities.Application", "action:delete_selected"): delete_rule(
        Application, _made_application, FACILITY
    ),
    ("facilities.Application", "action:offer_next_free_bed"): action_rule(
        Application,
        "offer_next_free_bed",
        lambda p, w: p.application,
        lambda a: fresh(a).status == "offered",
        FACILITY,
    ),
    ("facilities.Application", "action:admit_to_offered_bed"): action_rule(
        Application,
        "admit_to_offered_bed",
        lambda p, w: facility_services.offer_bed(
            application=p.application, bed=p.free_bed, on=datetime.date(2024, 5, 1)
        ),
        lambda a: fresh(a).status == "admitted",
        FACILITY,
    ),
    ("facilities.Application", "action:withdraw"): action_rule(
        Application,
        "withdraw",
        lambda p, w: p.application,
        lambda a: fresh(a).status == "withdrawn",
        FACILITY,
    ),
    ("facilities.Caregiver", "add"): add_rule(
        Caregiver,
        lambda p, w: {
            "name": "新护理员",
            "id_number": fresh_number(),
            "phone": "",
            "certificates-TOTAL_FORMS": "0",
            "certificates-INITIAL_FORMS": "0",
            "employments-TOTAL_FORMS": "1",
            "employments-INITIAL_FORMS": "0",
            "employments-0-facility": p.facility.pk,
            "employments-0-start_date": ON,
        },
        lambda p, w: Caregiver.objects.filter(name="新护理员").exists(),
        FACILITY,
    ),
    ("facilities.Caregiver", "change"): change_rule(
        Caregiver, lambda p: p.caregiver, {"name": "改名护理员"}, FACILITY
    ),
    ("facilities.Caregiver", "inline:CertificateInline"): rule(
        lambda client, place, world: _inline_row(
            client,
            world,
            Caregiver,
            place.caregiver,
            "certificates",
            {"kind": "first_aid", "issued_on": "2024-02-01", "number": "JH-1"},
            lambda: place.caregiver.certificates.filter(number="JH-1").exists(),
        ),
        FACILITY,
    ),
    ("facilities.Caregiver", "inline:EmploymentInline"): rule(
        lambda client, place, world: _inline_row(
            client,
            world,
            Caregiver,
            _left(world[INSIDE]),
            "employments",
            {"facility": place.facility.pk, "start_date": ON},
            lambda: Employment.objects.filter(
                caregiver=world[INSIDE].caregiver, facility=place.facility, start_date=ON
            ).exists(),
        ),
        FACILITY,
    ),
    ("facilities.Caregiver", "action:delete_selected"): rule(
        delete_rule(Caregiver, _made_caregiver, FACILITY).attempt,
        set(),
        "a caregiver's employments are kept (PROTECT): once employed, never deleted",
        superuser=False,
    ),
    # -- visits
    ("visits.VisitWorker", "add"): add_rule(
        VisitWorker,
        lambda p, w: {
            "user": User.objects.get(username="field-worker").pk,
            "area": p.street.pk,
            "start_date": ON,
            "end_date": "",
            "note": "新增",
        },
        lambda p, w: VisitWorker.objects.filter(area=p.street, note="新增").exists(),
        AREA,
        AREA_WORK,
    ),
    ("visits.VisitWorker", "change"): change_rule(
        VisitWorker, lambda p: p.assignment, {"end_date": "2024-12-31"}, AREA, AREA_WORK
    ),
    ("visits.FollowUpTask", "change"): change_rule(
        FollowUpTask,
        lambda p: p.task,
        {"status": "done", "resolution": "已处理"},
        AREA,
        AREA_WORK,
    ),
    ("visits.FollowUpTask", "action:confirm_death_on_visit_date"): action_rule(
        FollowUpTask,
        "confirm_death_on_visit_date",
        lambda p, w: p.death_report,
        lambda t: fresh(t.elder).death_date is not None,
        AREA,
        AREA_WORK,
    ),
    ("visits.HealthCheck", "add"): add_rule(
        HealthCheck,
        lambda p, w: {"elder": p.elder.pk, "checked_on": ON, "provider": "社区医院", "notes": ""},
        lambda p, w: HealthCheck.objects.filter(elder=p.elder, checked_on=ON).exists(),
        AREA,
        "health checks belong to where the elder lives, " + AREA_WORK,
    ),
    ("visits.HealthCheck", "change"): change_rule(
        HealthCheck,
        lambda p: p.health_check,
        {"provider": "改由卫生院"},
        AREA,
        "health checks belong to where the elder lives, " + AREA_WORK,
    ),
    # -- subsidies
    ("subsidies.Scheme", "add"): add_rule(
        Scheme,
        lambda p, w: {
            **model_to_dict(p.scheme, exclude=["id", "condition", "until_set_paid_as"]),
            "code": f"new_{p.county.code}",
            "jurisdiction": p.county.pk,
            "condition": json.dumps(p.scheme.condition),
            "until_set_paid_as": json.dumps(p.scheme.until_set_paid_as),
            "is_active": "on",
        },
        lambda p, w: Scheme.objects.filter(code=f"new_{p.county.code}").exists(),
        SUBSIDY,
        SUBSIDY_DATA,
    ),
    ("subsidies.Scheme", "change"): change_rule(
        Scheme, lambda p: p.scheme, {"label": "改名津贴"}, SUBSIDY, SUBSIDY_DATA
    ),
    ("subsidies.AllowanceRun", "action:resume"): action_rule(
        AllowanceRun, "resume", _failed_run, _not_failed, SUBSIDY, SUBSIDY_DATA
    ),
    ("subsidies.CorrectionJob", "action:resume"): action_rule(
        CorrectionJob, "resume", _failed_job, _not_failed, SUBSIDY, SUBSIDY_DATA
    ),
    ("subsidies.PaymentBatch", "change"): change_rule(
        PaymentBatch, lambda p: p.batch, {"note": "批次说明"}, SUBSIDY, SUBSIDY_DATA
    ),
    ("subsidies.PaymentBatch", "action:approve"): action_rule(
        PaymentBatch,
        "approve",
        lambda p, w: p.batch,
        lambda b: fresh(b).state == BatchState.APPROVED,
        {"finance"},
        PAYING,
        extra={"confirm": "yes"},
    ),
    ("subsidies.PaymentBatch", "page:subsidies_paymentbatch_approve"): page_rule(
        PaymentBatch,
        "subsidies_paymentbatch_approve",
        lambda p: [p.batch.pk],
        lambda p, w: {"confirm": "yes"},
        lambda p, w: fresh(p.batch).state == BatchState.APPROVED,
        {"finance"},
        PAYING,
    ),
    # -- the service lists (reference data, as the rulebook)
    ("servicelist.ServiceItem", "add"): add_rule(
        ServiceItem,
        lambda p, w: {
            "region": p.county.pk,
            "number": "91",
            "name": "新增项目",
            "name_en": "New item",
            "target_group": "老年人",
            "content": "新增",
            "kind": "in_kind",
            "reached_through": "delivery",
            "condition": '{"age_at_least": 60}',
            "standard_key": "",
            "schemes": "[]",
            "department": "",
            "legal_basis": "",
            "citation": "测试文件 清单91",
            "corresponds_to": "",
            "effective_from": "2031-01-01",
            "effective_to": "",
            "note": "",
            "change_reason": "测试新增",
        },
        lambda p, w: ServiceItem.objects.filter(region=p.county, number=91).exists(),
        BUREAU,
        REFERENCE,
    ),
    ("servicelist.ServiceItem", "change"): change_rule(
        ServiceItem,
        lambda p: _service_item(p.county),
        {"note": "修订说明", "change_reason": "测试修订"},
        BUREAU,
        REFERENCE,
    ),
    ("servicelist.SatisfactionSurvey", "add"): add_rule(
        SatisfactionSurvey,
        lambda p, w: {
            "elder": p.elder.pk,
            "item": _service_item(p.county, 4).pk,
            "provider": "",
            "surveyed_on": ON,
            "score": "4",
            "comment": "电话回访",
        },
        lambda p, w: SatisfactionSurvey.objects.filter(elder=p.elder).exists(),
        AREA,
        SURVEYS,
    ),
    ("servicelist.MealPoint", "add"): add_rule(
        MealPoint,
        lambda p, w: {
            "name": "新助餐点",
            "kind": "canteen",
            "region": p.community.pk,
            "facility": "",
            "opened_on": ON,
            "closed_on": "",
        },
        lambda p, w: MealPoint.objects.filter(region=p.community, name="新助餐点").exists(),
        AREA,
        "meal points are registered in the areas they serve, " + AREA_WORK,
    ),
    ("servicelist.MealPoint", "change"): change_rule(
        MealPoint,
        _meal_point,
        {"closed_on": datetime.date(2024, 6, 1)},
        AREA,
        "meal points are kept by the areas they serve, " + AREA_WORK,
    ),
    ("subsidies.StarSubsidyRate", "add"): add_rule(
        StarSubsidyRate,
        lambda p, w: {
            "jurisdiction": p.county.pk,
            "stars": "5",
            "amount": "2000",
            "effective_from": "2024-02-01",
            "note": "",
        },
        lambda p, w: StarSubsidyRate.objects.filter(jurisdiction=p.county, stars=5).exists(),
        BUREAU,
        STAR_TABLE,
    ),
    ("subsidies.StarSubsidyRate", "change"): change_rule(
        StarSubsidyRate, lambda p: p.star_rate, {"note": "调整说明"}, BUREAU, STAR_TABLE
    ),
    ("subsidies.Insurer", "add"): add_rule(
        Insurer,
        lambda p, w: {
            "name": "新登记保险公司",
            "uscc": credit_code(next(_serial)),
            "region": p.county.pk,
            "is_active": "on",
        },
        lambda p, w: Insurer.objects.filter(name="新登记保险公司", region=p.county).exists(),
        SUBSIDY,
        INSURERS,
    ),
    ("subsidies.Insurer", "change"): change_rule(
        Insurer, _insurer_of, {"name": "更名保险公司"}, SUBSIDY, INSURERS
    ),
    ("subsidies.InsuranceCover", "add"): add_rule(
        InsuranceCover,
        lambda p, w: {
            "scheme": _insured_scheme(p).pk,
            "region": p.county.pk,
            "insurer": _insurer_of(p).pk,
            "start_date": "2025-01-01",
            "end_date": "",
            "policy_number": "",
            "note": "新承保",
        },
        lambda p, w: InsuranceCover.objects.filter(region=p.county, note="新承保").exists(),
        SUBSIDY,
        INSURERS,
    ),
    ("subsidies.InsuranceCover", "change"): change_rule(
        InsuranceCover, _cover_of, {"note": "改签说明"}, SUBSIDY, INSURERS
    ),
}

# Admin actions and pages that read only: they show or print, and write nothing.
ADMIN_WITHOUT_WRITES = {
    ("residents.Elder", "page:residents_elder_qr"): "prints an elder's code",
    ("residents.Elder", "page:residents_elder_import_errors"): "an import's rejected rows, read",
    ("facilities.Facility", "page:facilities_facility_beds"): "the bed board, read only",
    ("facilities.Facility", "page:facilities_facility_bed_labels"): "prints bed codes",
    ("facilities.Facility", "page:facilities_facility_elder_labels"): "prints elder codes",
    ("facilities.Facility", "page:facilities_facility_staffing"): "the staffing check, read only",
    ("facilities.Stay", "page:facilities_stay_placement_list"): "the stays whose county "
    "approval the user may record, their placement facts read only (a bureau's registered "
    "elders placed in other counties included: test_a_cross_county_placement_is_the_"
    "registration_bureaus below)",
    ("facilities.Bed", "action:print_labels"): "prints bed codes",
    ("facilities.Stay", "action:print_elder_labels"): "prints elder codes",
    ("servicelist.ServiceItem", "page:servicelist_serviceitem_printable"): "prints a "
    "region's service list, read only",
    ("subsidies.PaymentBatch", "action:export_csv"): "an export, reserved to finance and "
    "tested with the batch's scope in tests/subsidies (the file is the batch's own lines)",
    ("subsidies.PaymentBatch", "action:export_xlsx"): "as export_csv",
    ("subsidies.PaymentBatch", "action:export_finance_xlsx"): "as export_csv (finance's "
    "layout of the same lines)",
    ("residents.Elder", "page:residents_elder_reveal"): "shows an ID number or phone of the "
    "user's scope whole, audited: the audit entry is its only write (scope and roles in "
    "tests/accounts/test_reveal.py)",
    ("facilities.Caregiver", "page:facilities_caregiver_reveal"): "as residents_elder_reveal",
    ("subsidies.PayeeAccount", "page:subsidies_payeeaccount_reveal"): "shows an account number "
    "of the user's scope whole, audited: the audit entry is its only write",
    ("subsidies.PaymentBatch", "page:subsidies_paymentbatch_export"): "as export_csv",
    ("subsidies.PaymentBatch", "page:subsidies_paymentbatch_bank_return"): "reconciliation "
    "(finance): the batch is found through the scope, its writes are reconcile_batch's, "
    "which checks the batch's scope",
}

# Moving a record of 翠苑 to the place: allowed within the writer's scope, refused outside it.
ADMIN_MOVES = {
    ("residents.Elder", "move:places"): move_rule(
        Elder,
        lambda p: p.elder,
        lambda p: {"hukou_region": p.community.pk, "residence_region": p.community.pk},
        {"name": "迁居老人"},
        RESIDENT,
        anywhere=frozenset({"institution"}),  # its residents are those staying there
    ),
    ("facilities.Facility", "move:region"): move_rule(
        Facility,
        lambda p: p.facility,
        lambda p: {"region": p.street.pk},
        {"name": "迁址"},
        AREA,
        anywhere=frozenset({"institution"}),  # its facility is its own wherever it is
    ),
    ("facilities.Bed", "move:facility"): move_rule(
        Bed,
        lambda p: p.free_bed,
        lambda p: {"facility": p.facility.pk},
        {"label": "迁移床", "room": "", "bed_type": "home_care", "home_address": "某路1号"},
        FACILITY,
    ),
    ("regions.Region", "move:parent"): move_rule(
        Region, lambda p: p.community, lambda p: {"parent": p.street.pk}, {"name": "迁移"}, BUREAU
    ),
}


def _left(place):
    """The place's caregiver, whose employment there ended: free to be employed anywhere (an
    open employment at a facility is one per caregiver)."""
    facility_services.end_employment(
        employment=place.employment, end_date=datetime.date(2024, 5, 31)
    )
    return place.caregiver


def _inline_row(client, world, model, parent, prefix, row, written):
    """The parent's change page posted back with one inline row added."""
    url = _url(model, "change", parent.pk)
    data = rendered(_root(world), url)
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return client.post(url, data), written


def test_every_admin_write_has_a_rule():
    discovered = admin_writes()
    ruled = set(ADMIN_WRITES) | set(ADMIN_WITHOUT_WRITES)
    assert discovered - ruled == set(), "admin writes without a rule in test_write_matrix.py"
    assert ruled - discovered == set(), "rules for admin writes that no longer exist"


def test_every_admin_of_area_data_checks_its_forms():
    """Scoped admins check their forms and inlines (accounts.permissions.ScopedAdminMixin)."""
    from accounts.permissions import ScopedAdminMixin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in ADMIN_WITHOUT_SCOPE:
            continue
        assert isinstance(model_admin, ScopedAdminMixin), type(model_admin).__name__
        assert scope_rule(model) is not None, model.__name__


@pytest.mark.parametrize("role", ROLES)
def test_admin_writes_stay_inside_the_roles_scope(
    world, role, client, tasks_in_process, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"  # the import's uploads
    client.force_login(make_user(role, world))
    _root(world)  # before the attempts, whose writes are undone
    problems = check_matrix(client, world, role, {**ADMIN_WRITES, **ADMIN_MOVES})
    assert not problems, "\n".join(problems)


# --- 3. one rule, two readings ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_a_record_in_memory_is_in_scope_exactly_when_the_database_says_so(world, role):
    """require_in_scope reads a record in memory (before it is saved) with the same rules the
    querysets use: for every registered model and every record of the world, both readings
    agree, so a form or an import refuses exactly what a list would not show."""
    from accounts.scoping import in_write_scope, registered_models, scoped_for_write

    user = make_user(role, world)
    disagree = []
    for model in registered_models():
        records = model._default_manager.all()
        if model is Region:  # the tree: the world's places and their parents
            records = records.filter(code__in=["330106", "330106004", "330106004001", "330203"])
        for record in records.order_by("pk")[:30]:
            in_database = scoped_for_write(model._default_manager.filter(pk=record.pk), user)
            in_memory = in_write_scope(user, record, as_stored=False)
            if in_memory != in_database.exists():
                disagree.append(f"{model.__name__} #{record.pk}: memory says {in_memory}")
    assert not disagree, "\n".join(disagree)


def test_a_record_keeps_what_it_holds_outside_the_scope_when_saved(world, client):
    """Choices are narrowed to the scope, not what a record already holds: an institution saves
    its caregiver's page though the caregiver worked elsewhere before (that row, unchanged, is
    neither refused nor written)."""
    home, elsewhere = world[INSIDE], world["beishan"]
    past = facility_services.employ_caregiver(
        caregiver=home.caregiver, facility=elsewhere.facility, start_date=datetime.date(2020, 1, 1)
    )
    facility_services.end_employment(employment=past, end_date=datetime.date(2023, 12, 31))
    client.force_login(make_user("institution", world))
    url = _url(Caregiver, "change", home.caregiver.pk)
    data = {**rendered(_root(world), url), "name": "改名护理员"}
    response = client.post(url, data)
    assert response.status_code == 302, _errors_of(response)
    assert fresh(home.caregiver).name == "改名护理员"
    assert fresh(past).end_date == datetime.date(2023, 12, 31)


def test_an_add_page_does_not_offer_a_record_outside_the_scope_named_in_its_address(world, client):
    """The admin fills an add page from its address (?elder=…): a record outside the scope
    named there is neither shown nor accepted."""
    outside = world["beishan"].elder
    client.force_login(make_user("street", world))
    page = client.get(_url(ElderCategory, "add"), {"elder": outside.pk})
    assert page.status_code == 200
    assert outside.name not in page.content.decode()
    choices = page.context["adminform"].form.fields["elder"].queryset
    assert not choices.filter(pk=outside.pk).exists()


# --- a placement approved across counties ----------------------------------------------------


@pytest.mark.parametrize("role", ["bureau", "street", "institution", "finance", "auditor"])
def test_a_cross_county_placement_is_the_registration_bureaus(zhejiang, role, client):
    """An elder registered in Xihu, placed in a Ningbo institution: only Xihu's bureau (the
    registration county's) records the approval, through the API and the admin, although it
    writes nothing else of a stay outside its area; every other role is refused."""
    from facilities.selectors import placement_approval_stays
    from tests.factories import BedFactory, ElderFactory, FacilityFactory

    ningbo_home = FacilityFactory(name="宁波跨县养老院", region=region("330203"))
    elder = ElderFactory(hukou_region=region("330106001001"))
    stay = facility_services.admit_to_bed(
        elder=elder, bed=BedFactory(facility=ningbo_home), start_date=STARTED
    )
    user = User.objects.create_user(username=f"cross-{role}", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="facilities"))
    grant = {
        "bureau": {"role": Role.BUREAU, "region": region("330106")},
        "street": {"role": Role.STREET_WORKER, "region": region("330106001")},
        "finance": {"role": Role.FINANCE, "region": region("330106")},
        "auditor": {"role": Role.AUDITOR, "region": region("330106")},
        "institution": {"role": Role.INSTITUTION_STAFF, "facility": ningbo_home},
    }[role]
    RoleAssignment.objects.create(user=user, **grant)
    user = User.objects.get(pk=user.pk)
    client.force_login(user)
    allowed = role == "bureau"
    assert placement_approval_stays(user).filter(pk=stay.pk).exists() == (
        role in ("bureau", "institution")
    )
    response = client.post(
        f"/api/facilities/stays/{stay.pk}/placement-approval/",
        {"approved_on": ON, "approval_number": "西民批〔2024〕9号", "approved_by": "330106"},
        content_type="application/json",
    )
    assert (response.status_code == 200) == allowed, response.content
    assert (fresh(stay).placement_approved_on is not None) == allowed
    # The admin page: the same rule (the bureau's approval recorded, or refused).
    page = reverse("admin:facilities_stay_placement", args=[stay.pk])
    data = {
        "placement_approved_on": ON,
        "placement_approval_number": "西民批〔2024〕10号",
        "placement_approved_by": region("330106").pk,
        "reason": "更正文号",
    }
    answer = client.post(page, data)
    assert (answer.status_code == 302) == allowed, (answer.status_code, _errors_of(answer))
    expected = "西民批〔2024〕10号" if allowed else ""
    assert fresh(stay).placement_approval_number == expected
    # Nothing else of the stay is written by the bureau.
    discharged = client.post(
        f"/api/facilities/stays/{stay.pk}/discharge/",
        {"end_date": ON},
        content_type="application/json",
    )
    assert (discharged.status_code == 200) == (role == "institution")
