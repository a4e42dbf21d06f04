"""The proof of scoping: every role × every API endpoint and admin list × an object inside and
one outside the role's scope.

Two halves that together close the loop:
1. ``scoped()`` itself against an explicit table (who sees which fixture object), written from
   the role definitions of issue 7, not from the code;
2. every API endpoint (discovered from the OpenAPI endpoint list, so a new endpoint is checked
   without editing this file) and every admin changelist agrees with ``scoped()``: lists and
   counts hold exactly the scoped rows, details outside the scope are "not found", searches and
   filters for an outside object find nothing. A model without a scope rule fails here.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from drf_spectacular.generators import EndpointEnumerator

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.permissions import ScopedAdminMixin, ScopedQuerysetMixin
from accounts.scoping import scope_rule, scoped
from regions.models import Region
from residents.models import Elder, ElderCategory
from tests.factories import BedFactory, ElderCategoryFactory, ElderFactory, FacilityFactory

PROJECT_APPS = ("regions", "residents", "facilities", "visits", "subsidies", "servicelist")
ROLES = ["bureau", "auditor", "street", "finance", "institution", "nobody", "superuser"]
DAY = datetime.date(2025, 3, 1)


def region(code):
    return Region.objects.get(code=code)


@pytest.fixture
def world(zhejiang):
    """Cuiyuan street (翠苑) and Beishan (北山) in Xihu; Ningbo is outside every role but the
    superuser's. Facility A is in Cuiyuan; the Beishan elder stays there."""
    from facilities import services as facility_services

    cuiyuan, beishan, ningbo = (
        region("330106004001"),
        region("330106001001"),
        region("330203"),
    )
    elders = {
        "cuiyuan": ElderFactory(name="翠苑老人", hukou_region=cuiyuan, residence_region=cuiyuan),
        "beishan": ElderFactory(name="北山老人", hukou_region=beishan, residence_region=beishan),
        "ningbo": ElderFactory(name="宁波老人", hukou_region=ningbo, phone="13812345678"),
    }
    for elder in elders.values():
        ElderCategoryFactory(elder=elder)
    facility_a = FacilityFactory(name="翠苑养老院", region=region("330106004"))
    facility_b = FacilityFactory(name="宁波养老院", region=ningbo)
    bed_a, bed_b = BedFactory(facility=facility_a), BedFactory(facility=facility_b)
    facility_services.admit_to_bed(elder=elders["beishan"], bed=bed_a, start_date=DAY)
    facility_services.admit_to_bed(elder=elders["ningbo"], bed=bed_b, start_date=DAY)
    return {"elders": elders, "facilities": {"a": facility_a, "b": facility_b}}


def make_user(name, world):
    if name == "superuser":
        return User.objects.create_superuser(username=name, password="x")
    user = User.objects.create_user(username=name, password="x", is_staff=True)
    # Every permission of the project apps: what is tested here is the scope, not the
    # permissions a role's group would hold.
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    xihu = region("330106")
    grants = {
        "bureau": {"role": Role.BUREAU, "region": xihu},
        "auditor": {"role": Role.AUDITOR, "region": xihu},
        "street": {"role": Role.STREET_WORKER, "region": region("330106004")},
        "finance": {"role": Role.FINANCE, "region": xihu},
        "institution": {"role": Role.INSTITUTION_STAFF, "facility": world["facilities"]["a"]},
    }
    if name in grants:
        RoleAssignment.objects.create(user=user, **grants[name])
    return User.objects.get(pk=user.pk)


# --- 1. the table: who sees which fixture object ------------------------------------------------

EXPECTED_ELDERS = {
    "bureau": {"cuiyuan", "beishan"},
    "auditor": {"cuiyuan", "beishan"},
    "street": {"cuiyuan"},  # by residence: the Beishan elder lives elsewhere
    "finance": set(),  # batches and subsidy data only
    "institution": {"beishan"},  # has an open stay at facility A
    "nobody": set(),
    "superuser": {"cuiyuan", "beishan", "ningbo"},
}
EXPECTED_FACILITIES = {
    "bureau": {"a"},
    "auditor": {"a"},
    "street": {"a"},
    "finance": set(),
    "institution": {"a"},
    "nobody": set(),
    "superuser": {"a", "b"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_elders_facilities_and_stays(world, role):
    from facilities.models import Facility, Stay

    user = make_user(role, world)
    elders = {
        key
        for key, elder in world["elders"].items()
        if scoped(Elder.objects, user).filter(pk=elder.pk).exists()
    }
    assert elders == EXPECTED_ELDERS[role]
    categories = scoped(ElderCategory.objects.all(), user)
    assert {c.elder.name for c in categories} == {
        world["elders"][k].name for k in EXPECTED_ELDERS[role]
    }
    facilities = {
        key
        for key, facility in world["facilities"].items()
        if scoped(Facility.objects.all(), user).filter(pk=facility.pk).exists()
    }
    assert facilities == EXPECTED_FACILITIES[role]
    stays = set(scoped(Stay.objects.all(), user).values_list("bed__facility__name", flat=True))
    assert stays == {world["facilities"][k].name for k in EXPECTED_FACILITIES[role]}


def test_an_institution_no_longer_sees_an_elder_once_the_stay_has_ended(world):
    from facilities import services as facility_services

    user = make_user("institution", world)
    elder = world["elders"]["beishan"]
    facility_services.discharge(elder=elder, end_date=DAY + datetime.timedelta(days=30))
    user = User.objects.get(pk=user.pk)
    assert not scoped(Elder.objects.all(), user).filter(pk=elder.pk).exists()


# --- 2. every endpoint and admin list agrees with scoped() -------------------------------------

# Views that hold no per-area data (who am I, the public documents of the API and rulebook).
NOT_AREA_DATA = {"MeView", "SpectacularAPIView", "SpectacularSwaggerView", "ResolvePolicyView"}


def api_get_endpoints():
    endpoints = []
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        if method == "GET":
            endpoints.append((path, callback.cls, getattr(callback, "actions", None) or {}))
    return endpoints


def endpoint_model(view_class):
    queryset = getattr(view_class, "queryset", None)
    return queryset.model if queryset is not None else None


def rows_of(payload):
    if isinstance(payload, dict) and "results" in payload:
        return payload["results"], payload.get("count")
    return (payload, None) if isinstance(payload, list) else (None, None)


def test_every_api_endpoint_is_scoped_or_holds_no_area_data():
    problems = []
    for path, view_class, _actions in api_get_endpoints():
        model = endpoint_model(view_class)
        if view_class.__name__ in NOT_AREA_DATA:
            continue
        if model is None:
            # Area views without a queryset check the area themselves (ScopedWritePermission
            # at least makes them refuse the anonymous and read-only writers).
            permission_names = {p.__name__ for p in view_class.permission_classes}
            if "ScopedWritePermission" not in permission_names:
                problems.append(f"{path}: {view_class.__name__} has no scoping")
            continue
        if not issubclass(view_class, ScopedQuerysetMixin):
            problems.append(f"{path}: {view_class.__name__} does not use ScopedQuerysetMixin")
        if scope_rule(model) is None:
            problems.append(f"{path}: {model.__name__} has no rule in accounts/rules.py")
    assert not problems, "\n".join(problems)


def detail_url(path, view_class, obj):
    lookup = getattr(view_class, "lookup_field", "pk")
    return re.sub(r"\{[^}]+\}", str(getattr(obj, lookup)), path, count=1)


@pytest.mark.parametrize("role", ROLES)
def test_api_lists_details_and_counts_hold_only_the_roles_scope(world, role, client):
    user = make_user(role, world)
    client.force_login(user)
    problems = []
    for path, view_class, actions in api_get_endpoints():
        model = endpoint_model(view_class)
        params = re.findall(r"\{([^}]+)\}", path)
        if not params:
            response = client.get(path)
            if response.status_code >= 500:
                problems.append(f"{path}: {response.status_code}")
                continue
            if model is None or response.status_code != 200:
                continue
            rows, count = rows_of(response.json())
            visible = scoped(model._default_manager.all(), user)
            if (
                rows
                and isinstance(rows[0], dict)
                and "id" in rows[0]
                and actions.get("get")
                in (
                    None,
                    "list",
                )
            ):
                outside = {r["id"] for r in rows} - set(visible.values_list("pk", flat=True))
                if outside:
                    problems.append(f"{path}: rows outside the scope {sorted(outside)}")
                if count is not None and count != visible.count():
                    problems.append(f"{path}: count {count} != scoped {visible.count()}")
        elif len(params) == 1 and model is not None and actions.get("get") == "retrieve":
            visible = set(scoped(model._default_manager.all(), user).values_list("pk", flat=True))
            for obj in model._default_manager.all()[:8]:
                status = client.get(detail_url(path, view_class, obj)).status_code
                expected = 200 if obj.pk in visible else 404
                if status != expected:
                    problems.append(f"{path} #{obj.pk}: {status}, expected {expected}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["bureau", "street", "institution", "finance", "nobody"])
def test_searching_and_filtering_for_an_outside_elder_finds_nothing(world, role, client):
    client.force_login(make_user(role, world))
    outside = world["elders"]["ningbo"]
    lookup = client.post(
        "/api/residents/elders/lookup/",
        {"id_number": outside.id_number},
        content_type="application/json",
    )
    if lookup.status_code == 200:
        assert lookup.json() == {"count": 0, "results": []}
    for query in (
        {"name": outside.name},
        {"hukou_region": "330203"},
        {"alive": "true", "name": "宁波"},
    ):
        body = client.get("/api/residents/elders/", query).json()
        assert body["count"] == 0 and body["results"] == [], query
    admin_list = client.get(reverse("admin:residents_elder_changelist"), {"q": outside.id_number})
    if admin_list.status_code == 200:
        assert admin_list.context["cl"].result_count == 0
        assert outside.name not in admin_list.content.decode()


# Admin pages that are not area data: users, groups, tokens, schedules, lockouts, the audit trail.
ADMIN_WITHOUT_SCOPE = {"auth", "authtoken", "django_celery_beat", "axes", "accounts"}


def project_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label not in ADMIN_WITHOUT_SCOPE
    ]


def test_every_admin_of_area_data_is_scoped():
    problems = []
    for model, model_admin in project_admins():
        if not isinstance(model_admin, ScopedAdminMixin):
            problems.append(f"{type(model_admin).__name__} does not use ScopedAdminMixin")
        if scope_rule(model) is None:
            problems.append(f"{model.__name__} has no rule in accounts/rules.py")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_admin_changelists_and_change_pages_hold_only_the_roles_scope(world, role, client):
    user = make_user(role, world)
    client.force_login(user)
    problems = []
    for model, _model_admin in project_admins():
        if scope_rule(model) is None:
            continue  # reported by the test above
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        visible = scoped(model._default_manager.all(), user)
        if response.status_code != 200:
            problems.append(f"{changelist}: {response.status_code}")
            continue
        cl = response.context["cl"]
        # full_result_count is None where an admin skips that second count (large tables).
        if cl.result_count != visible.count() or cl.full_result_count not in (
            None,
            visible.count(),
        ):
            problems.append(f"{changelist}: {cl.result_count} rows, scoped {visible.count()}")
        visible_pks = set(visible.values_list("pk", flat=True))
        for obj in model._default_manager.all()[:8]:
            page = client.get(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
            # Django's admin answers an object it cannot find with a redirect to the index.
            expected = 200 if obj.pk in visible_pks else 302
            if page.status_code != expected:
                problems.append(f"{changelist} #{obj.pk}: {page.status_code}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_auditors_cannot_write_anywhere(world, client):
    client.force_login(make_user("auditor", world))
    elder = world["elders"]["cuiyuan"]
    assert client.post("/api/residents/elders/", {"name": "x"}).status_code == 403
    response = client.post(f"/api/residents/elders/{elder.pk}/record-death/", {})
    assert response.status_code == 403
    page = client.get(reverse("admin:residents_elder_change", args=[elder.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert client.get(reverse("admin:residents_elder_add")).status_code == 403


# --- insurers and their covers: read-only endpoints, by an explicit table ----------------------

# Written from the role definitions: an insurer's name and credit code are public (every
# signed-in user may read them); a cover belongs to the region it insures, so the Xihu roles
# that reach the subsidies app see Xihu's cover, a street office (not a subsidies role), an
# institution and a user without a role see none, the superuser sees Ningbo's too.
EVERY_INSURER = {"xihu", "ningbo"}
INSURERS_AND_COVERS_SEEN = {
    "bureau": (EVERY_INSURER, {"xihu"}),
    "auditor": (EVERY_INSURER, {"xihu"}),
    "street": (EVERY_INSURER, set()),
    "finance": (EVERY_INSURER, {"xihu"}),
    "institution": (EVERY_INSURER, set()),
    "nobody": (EVERY_INSURER, set()),
    "superuser": (EVERY_INSURER, {"xihu", "ningbo"}),
}


@pytest.fixture
def insured_world(world):
    from subsidies.insurers import register_insurer, set_insurance_cover
    from subsidies.models import InsuranceCover, Insurer, Scheme
    from subsidies.schemes import load_schemes
    from tests.factories import credit_code

    if not Scheme.objects.filter(code="xihu_accident_insurance").exists():
        load_schemes()
    made = {}
    for n, (place, county, scheme) in enumerate(
        (
            ("xihu", "330106", "xihu_accident_insurance"),
            ("ningbo", "330203", "ningbo_accident_insurance"),
        )
    ):
        company = register_insurer(
            insurer=Insurer(
                name=f"{place}保险公司", uscc=credit_code(900 + n), region=region(county)
            )
        )
        cover = set_insurance_cover(
            cover=InsuranceCover(
                scheme=Scheme.objects.get(code=scheme),
                region=region(county),
                insurer=company,
                start_date=datetime.date(2024, 1, 1),
            )
        )
        made[place] = (company, cover)
    return made


@pytest.mark.parametrize("role", ROLES)
def test_insurers_and_covers_are_read_by_the_table(insured_world, world, role, client):
    client.force_login(make_user(role, world))
    insurers_seen, covers_seen = INSURERS_AND_COVERS_SEEN[role]
    for endpoint, at, seen in (
        ("/api/subsidies/insurers/", 0, insurers_seen),
        ("/api/subsidies/insurance-covers/", 1, covers_seen),
    ):
        expected = {insured_world[place][at].pk for place in seen}
        body = client.get(endpoint).json()
        assert {row["id"] for row in body["results"]} == expected, endpoint
        assert body["count"] == len(expected), endpoint
        for place, made in insured_world.items():
            status = client.get(f"{endpoint}{made[at].pk}/").status_code
            assert status == (200 if place in seen else 404), (endpoint, place)
        # A filter for what is outside finds nothing; the endpoints are read-only.
        outside = client.get(endpoint, {"region": "330203"}).json()
        assert {row["id"] for row in outside["results"]} == (
            {insured_world["ningbo"][at].pk} if "ningbo" in seen else set()
        )
        assert client.post(endpoint, {}, content_type="application/json").status_code in (
            403,
            405,
        )
    covers = client.get("/api/subsidies/insurance-covers/", {"in_force_on": "2023-12-31"}).json()
    assert covers["count"] == 0


@pytest.mark.parametrize("role", ROLES)
def test_the_placement_approvals_list_holds_the_scope_and_a_bureaus_registered_elders(
    world, role, client
):
    """GET /api/facilities/stays/placement-approvals/ (the stays whose county approval the user
    may record): the role's own stays, and for a bureau also the institutional stays of the
    elders registered in its area wherever they are — here the Ningbo stay is the Ningbo
    elder's, so the Xihu bureau sees exactly its own; the placement facts only."""
    from facilities.models import Stay

    user = make_user(role, world)
    client.force_login(user)
    response = client.get("/api/facilities/stays/placement-approvals/")
    assert response.status_code == 200
    rows = response.json()["results"]
    expected = set(scoped(Stay.objects.all(), user).values_list("pk", flat=True))
    assert {row["id"] for row in rows} == expected
    for row in rows:
        assert "bed" not in row and "bed_label" not in row
