"""Institution staff in the admin: the bed board, admit / discharge / transfer from it through the
services, labels, the staffing check; all within their own facility."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.services import assign_role
from facilities import services
from facilities.choices import ApplicationStatus, StayEndReason
from facilities.models import Building, Floor, Stay
from regions.models import Region
from residents.services import record_legacy_assessment
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory, RoomFactory

D = datetime.date


def _staff(username: str, *, apps=("facilities", "residents"), read_only=False) -> User:
    group, _ = Group.objects.get_or_create(name=f"{username}-group")
    permissions = Permission.objects.filter(content_type__app_label__in=apps)
    if read_only:
        permissions = permissions.filter(codename__startswith="view_")
    group.permissions.set(permissions)
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def home(rulebook):
    """A public home: building 1 with two floors (101: two beds, 201: one bed)."""
    facility = FacilityFactory(name="西湖颐养院")
    building = Building.objects.create(facility=facility, name="1号楼")
    rooms = {}
    for floor_number, room_number in [(1, "101"), (2, "201")]:
        floor = Floor.objects.create(building=building, number=floor_number)
        rooms[room_number] = floor.rooms.create(number=room_number)
    beds = {
        "101-1": BedFactory(facility=facility, room=rooms["101"], label="101-1"),
        "101-2": BedFactory(facility=facility, room=rooms["101"], label="101-2"),
        "201-1": BedFactory(facility=facility, room=rooms["201"], label="201-1"),
    }
    return facility, beds


@pytest.fixture
def staff_client(home, client):
    facility, _ = home
    user = _staff("carer")
    RoleAssignment.objects.create(user=user, role=Role.INSTITUTION_STAFF, facility=facility)
    client.force_login(user)
    return client


def _board(client, facility):
    return client.get(reverse("admin:facilities_facility_beds", args=[facility.pk]))


def test_bed_board_groups_beds_by_floor_with_state_and_occupant(home, staff_client):
    facility, beds = home
    services.admit_to_bed(
        elder=ElderFactory(name="冯九"), bed=beds["101-1"], start_date=D(2024, 1, 1)
    )
    page = _board(staff_client, facility)
    assert page.status_code == 200
    assert page.context["counts"] == {"total": 3, "occupied": 1, "free": 2, "inactive": 0}
    titles = [g["title"] for g in page.context["groups"]]
    assert titles == ["1号楼 1层", "1号楼 2层"]
    first = page.context["groups"][0]
    assert [r["name"] for r in first["rooms"]] == ["101"]
    cells = {c["bed"].label: c for r in first["rooms"] for c in r["cells"]}
    assert cells["101-1"]["state"] == "occupied" and cells["101-1"]["bed"].occupant_name == "冯九"
    assert "discharge_url" in cells["101-1"] and "transfer_url" in cells["101-1"]
    assert cells["101-2"]["state"] == "free"
    assert cells["101-2"]["admit_url"].endswith(f"?bed={beds['101-2'].code}")
    body = page.content.decode()
    assert "冯九" in body and beds["201-1"].code in body and "空床" in body


def test_admit_an_applicant_from_the_waiting_list_closes_the_application(home, staff_client):
    facility, beds = home
    first = services.apply_for_place(
        facility=facility, elder=ElderFactory(name="甲"), applied_on=D(2024, 1, 1)
    )
    services.apply_for_place(
        facility=facility, elder=ElderFactory(name="乙"), applied_on=D(2024, 2, 1)
    )
    url = reverse("admin:facilities_stay_admit")
    page = staff_client.get(url, {"bed": beds["101-2"].code})
    assert page.status_code == 200
    choices = dict(page.context["form"].fields["application"].choices)
    assert choices[str(first.pk)].startswith("西湖颐养院 第1名：甲")
    assert "顺位" in choices[str(first.pk)]  # the rule that ranks them
    response = staff_client.post(
        url,
        {"bed_code": beds["101-2"].code, "application": first.pk, "start_date": "2024-06-01"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:facilities_facility_beds", args=[facility.pk])
    stay = Stay.objects.get(bed=beds["101-2"])
    assert stay.elder == first.elder and stay.start_date == D(2024, 6, 1)
    first.refresh_from_db()
    assert first.status == ApplicationStatus.ADMITTED and first.stay == stay
    board = _board(staff_client, facility)
    assert board.context["counts"]["occupied"] == 1
    assert "甲" in board.content.decode()


def test_admit_by_scanning_an_applicants_elder_code(home, staff_client):
    facility, beds = home
    elder = ElderFactory(name="丙")
    application = services.apply_for_place(facility=facility, elder=elder, applied_on=D(2024, 1, 1))
    response = staff_client.post(
        reverse("admin:facilities_stay_admit"),
        {
            "bed_code": beds["201-1"].code.lower(),
            "elder_code": elder.elder_code,
            "start_date": "2024-06-01",
        },
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.ADMITTED


def test_an_elder_outside_the_facilitys_reach_is_not_found(home, staff_client):
    _, beds = home
    stranger = ElderFactory(name="丁")  # no stay here, no application here
    response = staff_client.post(
        reverse("admin:facilities_stay_admit"),
        {
            "bed_code": beds["101-1"].code,
            "elder_code": stranger.elder_code,
            "start_date": "2024-06-01",
        },
    )
    assert response.status_code == 200
    assert "不在您的权限范围内" in response.content.decode()
    assert not Stay.objects.exists()


def test_admit_needs_exactly_one_of_applicant_and_elder_code(home, staff_client):
    _, beds = home
    response = staff_client.post(
        reverse("admin:facilities_stay_admit"),
        {"bed_code": beds["101-1"].code, "start_date": "2024-06-01"},
    )
    assert "二者选一" in response.content.decode()
    assert not Stay.objects.exists()


def test_an_occupied_bed_is_refused_naming_who_is_in_it(home, staff_client):
    facility, beds = home
    services.admit_to_bed(
        elder=ElderFactory(name="戊"), bed=beds["101-1"], start_date=D(2024, 1, 1)
    )
    applicant = services.apply_for_place(
        facility=facility, elder=ElderFactory(), applied_on=D(2024, 1, 1)
    )
    response = staff_client.post(
        reverse("admin:facilities_stay_admit"),
        {"bed_code": beds["101-1"].code, "application": applicant.pk, "start_date": "2024-06-01"},
    )
    assert response.status_code == 200 and "戊" in response.content.decode()
    applicant.refresh_from_db()
    assert applicant.status == ApplicationStatus.WAITING


def test_discharge_from_the_board_frees_the_bed(home, staff_client):
    facility, beds = home
    stay = services.admit_to_bed(
        elder=ElderFactory(name="己"), bed=beds["101-1"], start_date=D(2024, 1, 1)
    )
    url = reverse("admin:facilities_stay_discharge", args=[stay.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and "己" in page.content.decode()
    refused = staff_client.post(url, {"end_date": "2023-12-31"})
    assert "早于" in refused.content.decode()  # the service's rule, shown on the form
    response = staff_client.post(url, {"end_date": "2024-06-01"})
    assert response.status_code == 302
    stay.refresh_from_db()
    assert stay.end_date == D(2024, 6, 1) and stay.end_reason == StayEndReason.DISCHARGED
    assert _board(staff_client, facility).context["counts"]["free"] == 3
    assert staff_client.get(url).status_code == 404  # a closed stay has nothing to discharge


def test_transfer_offers_the_free_beds_of_the_facility(home, staff_client):
    facility, beds = home
    stay = services.admit_to_bed(elder=ElderFactory(), bed=beds["101-1"], start_date=D(2024, 1, 1))
    services.admit_to_bed(elder=ElderFactory(), bed=beds["101-2"], start_date=D(2024, 1, 1))
    BedFactory(facility=FacilityFactory(), label="elsewhere")
    url = reverse("admin:facilities_stay_transfer", args=[stay.pk])
    page = staff_client.get(url)
    assert list(page.context["form"].fields["to_bed"].queryset) == [beds["201-1"]]
    response = staff_client.post(url, {"to_bed": beds["201-1"].pk, "on": "2024-06-01"})
    assert response.status_code == 302
    current = Stay.objects.get(elder=stay.elder, end_date__isnull=True)
    assert current.bed == beds["201-1"] and current.start_date == D(2024, 6, 1)
    stay.refresh_from_db()
    assert stay.end_reason == StayEndReason.TRANSFERRED


def test_other_facilities_are_out_of_reach(home, staff_client):
    other = FacilityFactory(name="别的养老院")
    bed = BedFactory(facility=other)
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    assert _board(staff_client, other).status_code == 404
    assert (
        staff_client.get(reverse("admin:facilities_stay_discharge", args=[stay.pk])).status_code
        == 404
    )
    response = staff_client.post(
        reverse("admin:facilities_stay_admit"),
        {"bed_code": bed.code, "elder_code": "E0000000", "start_date": "2024-06-01"},
    )
    assert "没有这个床位码" in response.content.decode()
    listing = staff_client.get(reverse("admin:facilities_bed_changelist"))
    assert bed.code not in listing.content.decode()


def test_read_only_roles_see_the_board_but_do_not_admit(home, client):
    facility, beds = home
    stay = services.admit_to_bed(elder=ElderFactory(), bed=beds["101-1"], start_date=D(2024, 1, 1))
    auditor = _staff("auditor-1", read_only=True)
    assign_role(user=auditor, role=Role.AUDITOR, region=Region.objects.get(code="330106"))
    client.force_login(auditor)
    page = _board(client, facility)
    assert page.status_code == 200 and not page.context["can_change"]
    assert "办理入住" not in page.content.decode()
    assert client.get(reverse("admin:facilities_stay_admit")).status_code == 403
    assert client.get(reverse("admin:facilities_stay_discharge", args=[stay.pk])).status_code == 403


def test_bed_and_elder_labels_print_one_qr_code_each(home, staff_client):
    facility, beds = home
    services.admit_to_bed(
        elder=ElderFactory(name="庚"), bed=beds["101-1"], start_date=D(2024, 1, 1)
    )
    sheet = staff_client.get(reverse("admin:facilities_facility_bed_labels", args=[facility.pk]))
    body = sheet.content.decode()
    assert body.count("<svg") == 3 and all(b.code in body for b in beds.values())
    elders = staff_client.get(reverse("admin:facilities_facility_elder_labels", args=[facility.pk]))
    body = elders.content.decode()
    assert body.count("<svg") == 1 and "庚" in body


def test_staffing_check_puts_short_staffed_institutions_first(home, staff_client, client, rulebook):
    facility, _ = home
    today = timezone.localdate()
    for _n in range(4):  # four fully disabled residents at 1:3 need two caregivers
        elder = ElderFactory()
        services.admit_to_bed(elder=elder, bed=BedFactory(facility=facility), start_date=today)
        record_legacy_assessment(elder=elder, assessed_on=today, assessor="评估员", level="severe")
    services.employ_caregiver(
        caregiver=CaregiverFactory(), facility=facility, start_date=D(2023, 1, 1)
    )
    enough = FacilityFactory(name="人手充足的养老院")
    page = staff_client.get(reverse("admin:facilities_facility_staffing"))
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [r["facility"] for r in rows] == [facility]  # institution staff: their own only
    report = rows[0]["report"]
    assert (report.required, report.actual, report.shortfall) == (2, 1, 1)
    assert 'class="short"' in page.content.decode()
    board = _board(staff_client, facility).content.decode()
    assert "staffing short" in board
    superuser = User.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_login(superuser)
    rows = client.get(reverse("admin:facilities_facility_staffing")).context["rows"]
    assert rows[0]["facility"] == facility and enough in [r["facility"] for r in rows]


def test_caregivers_list_shows_certificates_and_filters_by_facility(home, staff_client):
    facility, _ = home
    caregiver = CaregiverFactory(name="王护理")
    services.employ_caregiver(caregiver=caregiver, facility=facility, start_date=D(2023, 1, 1))
    services.add_certificate(caregiver=caregiver, kind="first_aid", issued_on=D(2023, 1, 1))
    page = staff_client.get(
        reverse("admin:facilities_caregiver_changelist"), {"employed_at": facility.pk}
    )
    body = page.content.decode()
    assert page.status_code == 200 and "王护理" in body and "救护员证" in body


def test_autocompletes_are_scoped(home, staff_client):
    facility, _ = home
    FacilityFactory(name="别处养老院")
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "facilities",
            "model_name": "application",
            "field_name": "facility",
            "term": "养老",
        },
    )
    assert response.status_code == 200
    names = [r["text"] for r in response.json()["results"]]
    assert "别处养老院" not in names


def test_room_factory_still_works(home):
    # RoomFactory builds its own building and floor; the board copes with both layouts.
    facility, _ = home
    assert RoomFactory(facility=facility).floor.building.facility == facility


def test_offer_next_free_bed_offers_a_bed_that_never_had_a_stay(home, staff_client):
    # A bed never occupied is free (free_beds once missed it through the outer join).
    facility, beds = home
    services.admit_to_bed(elder=ElderFactory(), bed=beds["101-1"], start_date=D(2024, 1, 1))
    application = services.apply_for_place(
        facility=facility, elder=ElderFactory(), applied_on=D(2024, 1, 1)
    )
    staff_client.post(
        reverse("admin:facilities_application_changelist"),
        {"action": "offer_next_free_bed", "_selected_action": [application.pk]},
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.OFFERED
    assert application.offered_bed in (beds["101-2"], beds["201-1"])


def test_bed_board_queries_do_not_grow_with_beds(home, staff_client):
    facility, beds = home
    services.admit_to_bed(elder=ElderFactory(), bed=beds["101-1"], start_date=D(2024, 1, 1))
    url = reverse("admin:facilities_facility_beds", args=[facility.pk])
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for n in range(6):
        bed = BedFactory(facility=facility, room=beds["201-1"].room, label=f"201-{n + 2}")
        services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    with CaptureQueriesContext(connection) as many:
        page = staff_client.get(url)
    assert page.context["counts"]["total"] == 9
    assert len(many.captured_queries) == len(few.captured_queries)
