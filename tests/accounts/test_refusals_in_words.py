"""Users never read a constraint's name and no form answers 500: a constraint without a message
of its own is worded from its fields (admin forms, the API, admin actions); a save the service
refuses is shown on the form with the user's input kept."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from accounts.api.exceptions import exception_handler
from accounts.choices import Role
from accounts.constraint_messages import readable, readable_errors
from accounts.models import RoleAssignment
from accounts.services import assign_role
from facilities.choices import StayEndReason
from facilities.models import Employment, Stay
from regions.models import Region
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory
from visits.models import HealthCheck, VisitWorker

D = datetime.date
CUIYUAN = "330106004"  # 翠苑街道
CUIYUAN_COMMUNITY = "330106004001"
BEISHAN = "330106001"  # 北山街道


def _default_message(name: str) -> str:
    return f"约束 “{name}” 是无效的"


def test_a_check_constraint_ordering_two_dates_is_worded_from_their_labels(zhejiang):
    with translation.override("zh-hans"):
        assert readable(_default_message("stay_period_ordered")) == "退住日期不能早于入住日期。"
        assert (
            readable(_default_message("visit_worker_period_ordered"))
            == "终止日期不能早于起始日期。"
        )
        # An amount bounded by zero, and a rule of several fields.
        assert readable(_default_message("star_subsidy_rate_amount_positive")).endswith(
            "须大于 0。"
        )
        assert "取值不符合要求" in readable(_default_message("bed_home_care_has_address_not_room"))
        # Any other text is left alone.
        assert readable("床位已停用。") == "床位已停用。"


def test_a_model_refused_by_its_constraint_names_the_rule_not_the_constraint(zhejiang):
    employment = Employment(
        caregiver=CaregiverFactory(),
        facility=FacilityFactory(),
        start_date=D(2024, 3, 1),
        end_date=D(2024, 1, 1),
    )
    with pytest.raises(ValidationError) as error, translation.override("zh-hans"):
        employment.full_clean()
    messages = [m for ms in readable_errors(error.value).values() for m in ms]
    assert "离职日期不能早于入职日期。" in messages
    assert not any("employment_period_ordered" in m for m in messages)


def test_the_api_answers_a_refused_check_in_words(zhejiang):
    bed = BedFactory(facility=FacilityFactory())
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Stay.objects.create(
            elder=ElderFactory(),
            bed=bed,
            start_date=D(2024, 2, 1),
            end_date=D(2024, 1, 1),
            end_reason=StayEndReason.DISCHARGED,
        )
    with translation.override("zh-hans"):
        response = exception_handler(caught.value, {})
    assert response.status_code == 400
    body = {k: [str(m) for m in v] for k, v in response.data.items()}
    assert body == {"start_date": ["退住日期不能早于入住日期。"]}


def test_the_api_words_a_constraints_default_message_in_a_validation_error(zhejiang):
    error = ValidationError({"end_date": [_default_message("employment_period_ordered")]})
    with translation.override("zh-hans"):
        response = exception_handler(error, {})
    assert [str(m) for m in response.data["end_date"]] == ["离职日期不能早于入职日期。"]


# --- the admin ------------------------------------------------------------------------------


def _user(username, apps, role, *, region=None, facility=None, **extra):
    group, _ = Group.objects.get_or_create(name=f"{username}-group")
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True, **extra)
    user.groups.add(group)
    if facility is not None:
        RoleAssignment.objects.create(user=user, role=role, facility=facility)
    else:
        assign_role(user=user, role=role, region=Region.objects.get(code=region))
    return user


@pytest.fixture
def street_worker(rulebook):
    return _user("cuiyuan", ("residents", "visits"), Role.STREET_WORKER, region=CUIYUAN)


def test_a_health_check_dated_in_the_future_is_a_form_error_not_a_500(client, street_worker):
    elder = ElderFactory(residence_region=Region.objects.get(code=CUIYUAN_COMMUNITY))
    client.force_login(street_worker)
    url = reverse("admin:visits_healthcheck_add")
    page = client.post(url, {"elder": elder.pk, "checked_on": "2030-01-01", "provider": "社区医院"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "体检日期 2030-01-01 晚于今天" in body
    assert 'value="社区医院"' in body  # the input is kept
    assert not HealthCheck.objects.exists()
    done = client.post(url, {"elder": elder.pk, "checked_on": "2024-05-01", "provider": "社区医院"})
    assert done.status_code == 302 and HealthCheck.objects.count() == 1


def test_an_assignment_ending_before_it_starts_says_so_in_chinese(client, street_worker):
    worker = _user("community", ("visits",), Role.STREET_WORKER, region=CUIYUAN_COMMUNITY)
    client.force_login(street_worker)
    page = client.post(
        reverse("admin:visits_visitworker_add"),
        {
            "user": worker.pk,
            "area": Region.objects.get(code=CUIYUAN_COMMUNITY).pk,
            "start_date": "2024-05-01",
            "end_date": "2024-04-01",
        },
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "终止日期不能早于起始日期" in body or "早于起始日期" in body
    assert "visit_worker_period_ordered" not in body
    assert not VisitWorker.objects.exists()


def test_the_worker_picker_shows_names_of_the_writers_area_and_never_a_superuser(
    client, street_worker
):
    _user("admin", ("visits",), Role.STREET_WORKER, region=CUIYUAN, is_superuser=True)
    mine = _user(
        "zhang", ("visits",), Role.STREET_WORKER, region=CUIYUAN_COMMUNITY, first_name="伟"
    )
    mine.last_name = "张"
    mine.save()
    _user("beishan", ("visits",), Role.STREET_WORKER, region=BEISHAN)
    client.force_login(street_worker)
    page = client.get(reverse("admin:visits_visitworker_add"))
    field = page.context["adminform"].form.fields["user"]
    labels = {field.label_from_instance(u) for u in field.queryset}
    assert "张伟（zhang）" in labels
    assert not any("admin" in label or "beishan" in label for label in labels)


def test_staff_without_rights_on_regions_pick_a_region_for_an_elder_and_an_area(
    client, street_worker
):
    facility = FacilityFactory()
    institution = _user(
        "carer", ("facilities", "residents"), Role.INSTITUTION_STAFF, facility=facility
    )
    for user, model, field in [
        (institution, "elder", "hukou_region"),
        (street_worker, "visitworker", "area"),
    ]:
        client.force_login(user)
        app = "residents" if model == "elder" else "visits"
        response = client.get(
            reverse("admin:autocomplete"),
            {"app_label": app, "model_name": model, "field_name": field, "term": "翠苑"},
        )
        assert response.status_code == 200, (user.username, field)
        assert any("翠苑" in r["text"] for r in response.json()["results"])
    # The regions still stay out of their menus.
    client.force_login(institution)
    assert "regions" not in {a["app_label"] for a in client.get("/admin/").context["app_list"]}
