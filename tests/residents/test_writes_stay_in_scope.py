"""The attack of issue 13, point 1, replayed: a street worker of 翠苑街道 writing the registry
outside their street — renaming an elder of another street through the admin's import,
recording their death, registering elders in another district through the import and through
POST /api/residents/elders/. Every such write is refused, row by row in the import, and the
import's preview does not tell which ID numbers are registered outside the scope."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.scoping import OutOfScopeWrite
from facilities import services as facility_services
from facilities.models import Stay
from regions.models import Region
from residents import importing, services
from residents.id_numbers import with_check_character
from residents.importing import COLUMNS
from residents.models import Elder, ElderCategory
from tests.factories import BedFactory, ElderFactory, FacilityFactory

pytestmark = pytest.mark.django_db

CUIYUAN_STREET, CUIYUAN, BEISHAN, NINGBO = "330106004", "330106004001", "330106001001", "330203"
IMPORT = "/admin/residents/elder/import/"


def region(code):
    return Region.objects.get(code=code)


def number(serial: int) -> str:
    return with_check_character(f"33010619480101{serial:03d}")


def user_with(username, role, code):
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["residents", "facilities"])
    )
    RoleAssignment.objects.create(user=user, role=role, region=region(code))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def street(zhejiang):
    return user_with("cuiyuan-street", Role.STREET_WORKER, CUIYUAN_STREET)


@pytest.fixture
def elders(zhejiang):
    """An elder of 翠苑 and one of 北山 staying in a care home, with a category and a stay."""
    cuiyuan = ElderFactory(
        id_number=number(1),
        name="翠苑老人",
        hukou_region=region(CUIYUAN),
        residence_region=region(CUIYUAN),
    )
    beishan = ElderFactory(
        id_number=number(2),
        name="北山老人",
        hukou_region=region(BEISHAN),
        residence_region=region(BEISHAN),
    )
    services.set_category(
        elder=beishan, category="living_alone", start_date=datetime.date(2024, 1, 1)
    )
    bed = BedFactory(facility=FacilityFactory(name="北山颐养院", region=region("330106001")))
    facility_services.admit_to_bed(elder=beishan, bed=bed, start_date=datetime.date(2024, 1, 1))
    return {"cuiyuan": cuiyuan, "beishan": beishan}


def csv_file(*rows):
    lines = [",".join(COLUMNS)] + [",".join(row) for row in rows]
    return SimpleUploadedFile("elders.csv", ("\n".join(lines) + "\n").encode(), "text/csv")


def row(id_number, name, hukou, residence="", death=""):
    return [id_number, name, hukou, residence, "", "", "", death]


def check(client, upload, capture):
    """Upload in the admin; the import job (checked by its task) and its page."""
    with capture(execute=True):
        uploaded = client.post(IMPORT, {"file": upload})
    page = client.get(uploaded.url)
    return page.context["job"], page


def confirm(client, job, capture):
    with capture(execute=True):
        return client.post(f"{IMPORT}{job.pk}/", {"confirm": "1"})


def test_the_street_workers_import_changes_only_their_street(
    client, street, elders, django_capture_on_commit_callbacks, tasks_in_process
):
    client.force_login(street)
    beishan = elders["beishan"]
    upload = csv_file(
        row(beishan.id_number, "改名", BEISHAN, BEISHAN),  # 2: rename another street's elder
        row(beishan.id_number[:-4] + "0000", "占位", CUIYUAN),  # 3: a bad number, for contrast
        row(number(3), "海曙新人", NINGBO),  # 4: register an elder in another district
        row(number(4), "翠苑新人", CUIYUAN, CUIYUAN),  # 5: register one of their own
        row(elders["cuiyuan"].id_number, "翠苑改名", CUIYUAN, CUIYUAN),  # 6: rename their own
    )
    job, preview = check(client, upload, django_capture_on_commit_callbacks)
    assert preview.status_code == 200
    assert (job.preview["create"], job.preview["update"], job.preview["rejected"]) == (1, 1, 3)
    refused = {
        line: (field, message) for line, field, message in job.errors if "管辖范围" in message
    }
    assert refused == {
        2: ("residence_region", "第 2 行：该老年人不在您的管辖范围内，本行不导入。"),
        4: ("hukou_region", "第 4 行：该老年人不在您的管辖范围内，本行不导入。"),
    }
    page = preview.content.decode()
    assert "北山老人" not in page and "第 2 行" in page and "第 4 行" in page

    done = confirm(client, job, django_capture_on_commit_callbacks)
    assert done.status_code == 302
    beishan.refresh_from_db()
    assert beishan.name == "北山老人"
    assert not Elder.objects.filter(id_number=number(3)).exists()
    assert Elder.objects.get(id_number=number(4)).name == "翠苑新人"
    assert Elder.objects.get(pk=elders["cuiyuan"].pk).name == "翠苑改名"


def test_the_import_cannot_record_a_death_outside_the_street(
    client, street, elders, django_capture_on_commit_callbacks, tasks_in_process
):
    client.force_login(street)
    beishan = elders["beishan"]
    upload = csv_file(row(beishan.id_number, beishan.name, BEISHAN, BEISHAN, death="2024-06-01"))
    job, _ = check(client, upload, django_capture_on_commit_callbacks)
    assert [message for _, _, message in job.errors] == [
        "第 2 行：该老年人不在您的管辖范围内，本行不导入。"
    ]
    confirm(client, job, django_capture_on_commit_callbacks)
    beishan.refresh_from_db()
    assert beishan.death_date is None
    assert Stay.objects.get(elder=beishan).end_date is None
    assert ElderCategory.objects.get(elder=beishan).end_date is None


def test_the_preview_does_not_tell_whether_a_number_is_registered_elsewhere(street, elders):
    """A registered elder outside the scope and an unregistered number, with the same places,
    read the same; so do a registered elder given the importer's own places and a new one given
    places outside. Nothing of the registered record (its death date) is compared."""
    beishan = elders["beishan"]
    services.record_death(elder=beishan, death_date=datetime.date(2024, 5, 1))

    def answers(*rows):
        parsed = [(line, dict(zip(COLUMNS, values, strict=True))) for line, values in rows]
        plan = importing.plan_import(parsed, by=street)
        assert not plan.to_create and not plan.to_update and not plan.unchanged
        assert sorted(e.row for e in plan.errors) == [line for line, _ in rows]
        assert not any("2024-05-01" in e.message for e in plan.errors)
        return {(e.field, e.message.replace(f"第 {e.row} 行", "第 N 行")) for e in plan.errors}

    registered_or_not = answers(
        (2, row(beishan.id_number, "甲", BEISHAN, BEISHAN, death="2024-06-01")),
        (3, row(number(9), "甲", BEISHAN, BEISHAN, death="2024-06-01")),
    )
    own_places_or_outside = answers(
        (2, row(beishan.id_number, "乙", CUIYUAN, CUIYUAN)),
        (3, row(number(8), "乙", NINGBO, BEISHAN)),
    )
    assert len(registered_or_not) == 1 and registered_or_not == own_places_or_outside


def test_a_plan_checked_for_the_system_is_not_applied_by_a_street_worker(street, elders):
    rows = [(2, dict(zip(COLUMNS, row(number(5), "海曙新人", NINGBO), strict=True)))]
    plan = importing.plan_import(rows)  # the system's plan: every row goes in
    assert len(plan.to_create) == 1
    with pytest.raises(OutOfScopeWrite, match="第 2 行"):
        importing.apply_import(plan, by=street)
    assert not Elder.objects.filter(id_number=number(5)).exists()
    importing.apply_import(plan)  # the system (a command) is unrestricted
    assert Elder.objects.filter(id_number=number(5)).exists()


@pytest.fixture
def api(street):
    client = APIClient()
    client.force_authenticate(street)
    return client


@pytest.mark.parametrize(
    ("hukou", "residence", "field"),
    [(NINGBO, None, "hukou_region"), (CUIYUAN, BEISHAN, "residence_region")],
)
def test_the_api_refuses_to_register_an_elder_outside_the_street(api, hukou, residence, field):
    body = {"id_number": number(6), "name": "外区新人", "hukou_region": hukou}
    if residence:
        body["residence_region"] = residence
    response = api.post("/api/residents/elders/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field] and "管辖范围" in response.json()[field][0]
    assert not Elder.objects.filter(id_number=number(6)).exists()


def test_the_api_registers_an_elder_living_in_the_street_registered_elsewhere(api):
    body = {"id_number": number(7), "name": "外来", "hukou_region": NINGBO}
    body["residence_region"] = CUIYUAN
    assert api.post("/api/residents/elders/", body, format="json").status_code == 201


def test_a_number_registered_outside_is_answered_as_any_place_outside(api, elders):
    """With places outside the scope, a registered number and a new one give one answer."""
    answers = set()
    for id_number in (elders["beishan"].id_number, number(11)):
        body = {"id_number": id_number, "name": "某", "hukou_region": NINGBO}
        response = api.post("/api/residents/elders/", body, format="json")
        answers.add((response.status_code, str(response.json())))
    assert len(answers) == 1 and next(iter(answers))[0] == 400


def test_the_api_does_not_record_a_death_outside_the_street(api, elders):
    beishan = elders["beishan"]
    response = api.post(
        f"/api/residents/elders/{beishan.pk}/record-death/", {"death_date": "2024-06-01"}
    )
    assert response.status_code == 404 and "北山老人" not in response.content.decode()
    beishan.refresh_from_db()
    assert beishan.death_date is None


def test_the_services_refuse_the_street_worker_and_leave_the_system_free(street, elders):
    beishan, cuiyuan = elders["beishan"], elders["cuiyuan"]
    with pytest.raises(OutOfScopeWrite):
        services.record_death(elder=beishan, death_date=datetime.date(2024, 6, 1), by=street)
    with pytest.raises(OutOfScopeWrite):
        services.update_elder(elder=beishan, name="改名", by=street)
    with pytest.raises(OutOfScopeWrite) as moved:
        services.update_elder(elder=cuiyuan, residence_region=region(BEISHAN), by=street)
    assert moved.value.field == "residence_region"
    cuiyuan.refresh_from_db()
    assert cuiyuan.residence_region.code == CUIYUAN
    with pytest.raises(OutOfScopeWrite):
        services.set_category(
            elder=beishan, category="disabled", start_date=datetime.date(2024, 6, 1), by=street
        )
    services.record_death(elder=beishan, death_date=datetime.date(2024, 6, 1))  # by=None
    assert Elder.objects.get(pk=beishan.pk).death_date == datetime.date(2024, 6, 1)


def test_the_admin_refuses_to_move_an_elder_out_of_the_street(client, street, elders):
    client.force_login(street)
    cuiyuan = elders["cuiyuan"]
    url = f"/admin/residents/elder/{cuiyuan.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        "name": cuiyuan.name,
        "hukou_region": form["hukou_region"].value(),
        "residence_region": region(BEISHAN).pk,
        "phone": "",
        "pension_type": cuiyuan.pension_type,
    }
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "管辖范围" in errors["residence_region"][0]
    cuiyuan.refresh_from_db()
    assert cuiyuan.residence_region.code == CUIYUAN
