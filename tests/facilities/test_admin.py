import datetime

import pytest

from facilities import services
from facilities.models import Application, Bed, Stay
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date


@pytest.fixture
def staff(rulebook, django_user_model, client):
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_login(user)
    return client


def test_pages_render_with_who_is_in_each_bed(staff):
    facility = FacilityFactory(name="福利院")
    bed = BedFactory(facility=facility, label="101-1")
    elder = ElderFactory(name="冯九")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    services.apply_for_place(facility=facility, elder=ElderFactory(), applied_on=D(2024, 1, 1))
    for url in [
        "/admin/facilities/facility/",
        f"/admin/facilities/facility/{facility.pk}/change/",
        "/admin/facilities/stay/",
        "/admin/facilities/application/",
        "/admin/facilities/caregiver/",
        "/admin/facilities/rating/add/",
        "/admin/facilities/chaincontract/add/",
        "/admin/facilities/stay/admit/",
    ]:
        assert staff.get(url).status_code == 200, url
    board = staff.get(f"/admin/facilities/facility/{facility.pk}/beds/").content.decode()
    assert "冯九" in board and bed.code in board
    beds = staff.get("/admin/facilities/bed/").content.decode()
    assert "冯九" in beds
    ranked = staff.get("/admin/facilities/application/").content.decode()
    assert "第9顺位" in ranked


def test_label_sheet_prints_qr_codes(staff):
    beds = [BedFactory(facility=FacilityFactory()) for _ in range(2)]
    response = staff.post(
        "/admin/facilities/bed/",
        {"action": "print_labels", "_selected_action": [b.pk for b in beds]},
    )
    page = response.content.decode()
    assert page.count("<svg") == 2 and all(b.code in page for b in beds)


def test_admit_by_scanning_codes_and_conflict_message(staff):
    bed = BedFactory(facility=FacilityFactory(), label="9-9")
    first, second = ElderFactory(name="陈一"), ElderFactory()
    ok = staff.post(
        "/admin/facilities/stay/admit/",
        {"elder_code": first.elder_code, "bed_code": bed.code, "start_date": "2024-01-01"},
    )
    assert ok.status_code == 302 and Stay.objects.filter(bed=bed).count() == 1
    refused = staff.post(
        "/admin/facilities/stay/admit/",
        {"elder_code": second.elder_code, "bed_code": bed.code, "start_date": "2024-01-02"},
    )
    assert refused.status_code == 200 and "陈一" in refused.content.decode()


def test_discharge_action(staff):
    bed = BedFactory(facility=FacilityFactory())
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    staff.post(
        "/admin/facilities/stay/", {"action": "discharge_today", "_selected_action": [stay.pk]}
    )
    stay.refresh_from_db()
    assert stay.end_date == datetime.date.today()
    assert Bed.objects.count() == 1 and Application.objects.count() == 0
