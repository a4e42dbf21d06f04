"""Dates are checked against today and against the record's other dates, in the services, so the
admin, the API and the imports refuse alike with a Chinese message naming the field; a stay
recorded wrongly is corrected by a scoped, recorded action."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import OutOfScopeWrite
from facilities import services
from facilities.choices import ApplicationStatus, CertificateKind, StayEndReason
from facilities.models import Stay
from facilities.services import StayConflict
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory
from tests.openapi_conformance import assert_matches_schema

D = datetime.date


def today():
    return timezone.localdate()


@pytest.fixture
def facility(rulebook):
    return FacilityFactory(name="西湖颐养院")


@pytest.fixture
def bed(facility):
    return BedFactory(facility=facility, label="101-1")


def _messages(error, field):
    return " ".join(error.value.message_dict[field])


# --- admissions, discharges, transfers -----------------------------------------------------


def test_an_admission_dated_in_the_future_is_refused_naming_the_date(bed):
    elder = ElderFactory()
    with pytest.raises(ValidationError) as error:
        services.admit_to_bed(elder=elder, bed=bed, start_date=D(2030, 1, 1))
    assert "入住日期 2030-01-01 晚于今天" in _messages(error, "start_date")
    assert not Stay.objects.filter(bed=bed).exists()
    # Today is accepted.
    assert services.admit_to_bed(elder=elder, bed=bed, start_date=today()).pk


def test_an_admission_before_the_elder_was_born_is_refused(bed):
    elder = ElderFactory()
    with pytest.raises(ValidationError) as error:
        services.admit_to_bed(elder=elder, bed=bed, start_date=D(1900, 1, 1))
    assert "早于出生日期" in _messages(error, "start_date")


def test_a_discharge_or_transfer_dated_in_the_future_is_refused(facility, bed):
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    with pytest.raises(ValidationError) as error:
        services.discharge(elder=elder, end_date=D(2030, 1, 1))
    assert "退住日期 2030-01-01 晚于今天" in _messages(error, "end_date")
    with pytest.raises(ValidationError) as error:
        services.transfer(elder=elder, to_bed=BedFactory(facility=facility), on=D(2030, 1, 1))
    assert "转床日期" in _messages(error, "on")
    assert Stay.objects.get(elder=elder).end_date is None


# --- correcting a stay ---------------------------------------------------------------------


def _stay_typed_in_the_future(bed, elder):
    """A stay as the old admin accepted it (dated 2030): it holds its bed until then."""
    return Stay.objects.create(elder=elder, bed=bed, start_date=D(2030, 1, 1))


def test_a_stay_dated_in_the_future_is_corrected_and_the_bed_is_free_again(bed):
    wrong = _stay_typed_in_the_future(bed, ElderFactory(name="任永毛"))
    stay = services.correct_stay(
        stay=wrong, start_date=D(2024, 5, 1), reason="入住日期录入错误", by=None
    )
    assert stay.start_date == D(2024, 5, 1)
    services.discharge(elder=stay.elder, end_date=D(2024, 6, 1))
    # The bed takes the next admission from the discharge day.
    services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 6, 1))
    history = Stay.objects.get(pk=wrong.pk).history.order_by("history_date")
    corrected = [h for h in history if (h.history_change_reason or "").startswith("更正")]
    assert corrected and corrected[0].history_change_reason == "更正：入住日期录入错误"
    assert corrected[0].prev_record.start_date == D(2030, 1, 1)


def test_a_closed_stay_ending_in_the_future_is_corrected_to_a_real_discharge_date(bed):
    elder = ElderFactory()
    stay = Stay.objects.create(
        elder=elder,
        bed=bed,
        start_date=D(2024, 1, 1),
        end_date=D(2030, 1, 1),
        end_reason=StayEndReason.DISCHARGED,
    )
    # The bed refuses every admission before 2030, and says how to put it right …
    with pytest.raises(StayConflict) as error:
        services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 6, 1))
    assert "请在入住记录中“更正”" in _messages(error, "bed")
    services.correct_stay(stay=stay, end_date=D(2024, 3, 1), reason="退住日期录入错误")
    # … and, corrected, is free from the real discharge day.
    services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 6, 1))


def test_a_correction_to_the_wrong_bed_moves_the_stay_without_a_transfer(facility, bed):
    elder = ElderFactory()
    stay = services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    right = BedFactory(facility=facility, label="102-1")
    services.correct_stay(stay=stay, bed=right, reason="床位选错")
    assert Stay.objects.get(pk=stay.pk).bed == right
    assert Stay.objects.filter(elder=elder).count() == 1


def test_a_correction_obeys_every_rule_of_an_admission(facility, bed):
    elder = ElderFactory()
    stay = services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 1))
    with pytest.raises(ValidationError) as error:
        services.correct_stay(stay=stay, start_date=D(2030, 1, 1), reason="x")
    assert "晚于今天" in _messages(error, "start_date")
    with pytest.raises(ValidationError) as error:
        services.correct_stay(stay=stay, start_date=D(2024, 1, 1), reason="")
    assert "更正原因" in _messages(error, "reason")
    with pytest.raises(ValidationError) as error:
        services.correct_stay(stay=stay, end_date=D(2024, 4, 1), reason="x")
    assert "办理退住" in _messages(error, "end_date")
    # Another elder's stay in the bed the correction names.
    other_bed = BedFactory(facility=facility, label="103-1")
    services.admit_to_bed(elder=ElderFactory(name="李四"), bed=other_bed, start_date=D(2024, 1, 1))
    with pytest.raises(StayConflict) as error:
        services.correct_stay(stay=stay, bed=other_bed, reason="x")
    assert "李四" in _messages(error, "bed")
    assert Stay.objects.get(pk=stay.pk).bed == bed


def test_a_correction_is_checked_against_the_writers_scope(rulebook, bed):
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    elsewhere = FacilityFactory(name="别处的养老院")
    outsider = User.objects.create_user("outsider", is_staff=True)
    RoleAssignment.objects.create(user=outsider, role=Role.INSTITUTION_STAFF, facility=elsewhere)
    with pytest.raises(OutOfScopeWrite):
        services.correct_stay(stay=stay, start_date=D(2024, 2, 1), reason="x", by=outsider)
    assert Stay.objects.get(pk=stay.pk).start_date == D(2024, 1, 1)


def test_a_correction_to_a_bed_outside_the_writers_scope_is_refused(facility, bed):
    """The stay is the writer's, the bed it names is not: moving the stay there is refused."""
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    insider = User.objects.create_user("insider", is_staff=True)
    RoleAssignment.objects.create(user=insider, role=Role.INSTITUTION_STAFF, facility=facility)
    elsewhere = BedFactory(facility=FacilityFactory(name="别处的养老院"), label="201-1")
    with pytest.raises(OutOfScopeWrite):
        services.correct_stay(stay=stay, bed=elsewhere, reason="床位选错", by=insider)
    assert Stay.objects.get(pk=stay.pk).bed == bed


def test_a_correction_is_in_the_audit_trail_with_who_why_and_what_changed(facility, bed):
    staff = _staff("carer", facility)
    wrong = _stay_typed_in_the_future(bed, ElderFactory(name="任永毛"))
    right = BedFactory(facility=facility, label="102-1")
    services.correct_stay(
        stay=wrong, start_date=D(2024, 5, 1), bed=right, reason="入住日期录入错误", by=staff
    )
    entry = AuditEntry.objects.get(action=AuditAction.CORRECT_STAY)
    assert (entry.user, entry.object_type, entry.object_id) == (
        staff,
        "facilities.stay",
        str(wrong.pk),
    )
    assert entry.reason == "入住日期录入错误"
    assert entry.details["start_date"] == "2030-01-01 → 2024-05-01"
    assert entry.details["bed"] == f"101-1（{bed.code}） → 102-1（{right.code}）"
    assert "end_date" not in entry.details  # unchanged values are not listed


def test_a_refused_correction_leaves_no_audit_entry(facility, bed):
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 3, 1))
    with pytest.raises(ValidationError):
        services.correct_stay(stay=stay, start_date=D(2030, 1, 1), reason="x")
    assert not AuditEntry.objects.filter(action=AuditAction.CORRECT_STAY).exists()


# --- correcting through the API (the phone and REST clients) --------------------------------


@pytest.fixture
def staff_api(facility):
    client = APIClient()
    client.force_authenticate(_staff("carer", facility))
    return client


def test_the_api_corrects_a_stay_and_records_it(staff_api, facility, bed):
    wrong = _stay_typed_in_the_future(bed, ElderFactory(name="任永毛"))
    url = f"/api/facilities/stays/{wrong.pk}/correct/"
    done = staff_api.post(
        url, {"start_date": "2024-05-01", "reason": "日期录入错误"}, format="json"
    )
    assert done.status_code == 200, done.json()
    assert done.json()["start_date"] == "2024-05-01"
    assert_matches_schema("post", "/api/facilities/stays/{id}/correct/", done)
    latest = Stay.objects.get(pk=wrong.pk).history.latest("history_date")
    assert latest.history_change_reason == "更正：日期录入错误"
    entry = AuditEntry.objects.get(action=AuditAction.CORRECT_STAY, object_id=str(wrong.pk))
    assert entry.user.username == "carer" and entry.reason == "日期录入错误"


def test_the_api_refuses_a_correction_naming_the_field(staff_api, facility, bed):
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 3, 1))
    url = f"/api/facilities/stays/{stay.pk}/correct/"
    no_reason = staff_api.post(url, {"start_date": "2024-02-01"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    blank = staff_api.post(url, {"start_date": "2024-02-01", "reason": "  "}, format="json")
    assert blank.status_code == 400 and "reason" in blank.json()
    future = staff_api.post(url, {"start_date": "2030-01-01", "reason": "x"}, format="json")
    assert future.status_code == 400 and "晚于今天" in " ".join(future.json()["start_date"])
    open_end = staff_api.post(url, {"end_date": "2024-04-01", "reason": "x"}, format="json")
    assert open_end.status_code == 400 and "办理退住" in " ".join(open_end.json()["end_date"])
    taken = BedFactory(facility=facility, label="103-1")
    services.admit_to_bed(elder=ElderFactory(name="李四"), bed=taken, start_date=D(2024, 1, 1))
    conflict = staff_api.post(url, {"bed": taken.pk, "reason": "x"}, format="json")
    assert conflict.status_code == 409 and "李四" in " ".join(conflict.json()["bed"])
    elsewhere = BedFactory(facility=FacilityFactory(name="别处的养老院"))
    outside = staff_api.post(url, {"bed": elsewhere.pk, "reason": "x"}, format="json")
    assert outside.status_code == 400 and "bed" in outside.json()
    assert Stay.objects.get(pk=stay.pk).start_date == D(2024, 3, 1)
    assert Stay.objects.get(pk=stay.pk).bed == bed
    assert not AuditEntry.objects.filter(action=AuditAction.CORRECT_STAY).exists()


# --- waiting lists --------------------------------------------------------------------------


def test_an_application_dated_in_the_future_is_refused(facility):
    with pytest.raises(ValidationError) as error:
        services.apply_for_place(facility=facility, elder=ElderFactory(), applied_on=D(2030, 1, 1))
    assert "申请日期 2030-01-01 晚于今天" in _messages(error, "applied_on")


def test_a_resident_does_not_apply_to_the_facility_they_live_in(facility, bed):
    elder = ElderFactory(name="王五")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    with pytest.raises(ValidationError) as error:
        services.apply_for_place(facility=facility, elder=elder, applied_on=D(2024, 5, 1))
    assert "王五" in _messages(error, "elder") and "不需轮候" in _messages(error, "elder")


def test_an_offer_or_admission_before_the_application_is_refused(facility, bed):
    application = services.apply_for_place(
        facility=facility, elder=ElderFactory(), applied_on=D(2024, 5, 1)
    )
    with pytest.raises(ValidationError) as error:
        services.offer_bed(application=application, bed=bed, on=D(2024, 4, 1))
    assert "早于申请日期 2024-05-01" in _messages(error, "on")
    with pytest.raises(ValidationError) as error:
        services.admit_application(application=application, bed=bed, on=D(2024, 4, 1))
    assert "on" in error.value.message_dict
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WAITING


# --- caregivers -----------------------------------------------------------------------------


def test_an_employment_ending_before_it_started_is_refused_in_words(facility):
    employment = services.employ_caregiver(
        caregiver=CaregiverFactory(), facility=facility, start_date=D(2024, 3, 1)
    )
    with pytest.raises(ValidationError) as error:
        services.end_employment(employment=employment, end_date=D(2024, 1, 1))
    message = _messages(error, "end_date")
    assert "离职日期 2024-01-01 早于入职日期 2024-03-01" in message
    assert "employment_period_ordered" not in message


def test_a_certificate_expiring_before_it_was_issued_is_refused_in_words(rulebook):
    with pytest.raises(ValidationError) as error:
        services.add_certificate(
            caregiver=CaregiverFactory(),
            kind=CertificateKind.FIRST_AID,
            issued_on=D(2024, 3, 1),
            valid_until=D(2024, 1, 1),
        )
    assert "有效期至 2024-01-01 早于发证日期" in _messages(error, "valid_until")


# --- the admin ------------------------------------------------------------------------------


def _staff(username, facility):
    group, _ = Group.objects.get_or_create(name="机构")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=("facilities", "residents"))
    )
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    RoleAssignment.objects.create(user=user, role=Role.INSTITUTION_STAFF, facility=facility)
    return user


def test_the_admin_corrects_a_stay_with_a_reason_in_its_history(client, facility, bed):
    wrong = _stay_typed_in_the_future(bed, ElderFactory(name="任永毛"))
    staff = _staff("carer", facility)
    client.force_login(staff)
    url = reverse("admin:facilities_stay_correct", args=[wrong.pk])
    page = client.get(url)
    assert page.status_code == 200 and "更正原因" in page.content.decode()
    refused = client.post(
        url, {"start_date": "2030-02-01", "bed": bed.pk, "reason": "日期录入错误"}
    )
    assert refused.status_code == 200
    assert "晚于今天" in refused.content.decode()
    done = client.post(url, {"start_date": "2024-05-01", "bed": bed.pk, "reason": "日期录入错误"})
    assert done.status_code == 302
    wrong.refresh_from_db()
    assert wrong.start_date == D(2024, 5, 1)
    latest = wrong.history.latest("history_date")
    assert latest.history_user == staff and latest.history_change_reason == "更正：日期录入错误"


def test_the_stays_list_puts_discharge_and_transfer_beside_the_name(client, facility, bed):
    stay = services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    client.force_login(_staff("carer", facility))
    page = client.get(reverse("admin:facilities_stay_changelist"))
    assert page.status_code == 200
    from facilities.admin import StayAdmin

    assert StayAdmin.list_display[:2] == ["elder", "stay_actions"]
    html = page.content.decode()
    assert reverse("admin:facilities_stay_discharge", args=[stay.pk]) in html
    assert reverse("admin:facilities_stay_correct", args=[stay.pk]) in html
    # A stay's own page offers the actions and no save button that would do nothing.
    detail = client.get(reverse("admin:facilities_stay_change", args=[stay.pk])).content.decode()
    assert 'name="_save"' not in detail
    assert reverse("admin:facilities_stay_transfer", args=[stay.pk]) in detail


def test_the_admin_admission_form_refuses_a_future_date_in_chinese(client, facility, bed):
    elder = ElderFactory()
    staff = _staff("carer", facility)
    services.apply_for_place(facility=facility, elder=elder, applied_on=D(2024, 1, 1))
    client.force_login(staff)
    page = client.post(
        reverse("admin:facilities_stay_admit"),
        {"bed_code": bed.code, "elder_code": elder.elder_code, "start_date": "2030-01-01"},
    )
    assert page.status_code == 200
    assert "入住日期 2030-01-01 晚于今天" in page.content.decode()
    assert not Stay.objects.filter(bed=bed).exists()
