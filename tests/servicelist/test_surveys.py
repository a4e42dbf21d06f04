"""Satisfaction surveys (满意度测评, docs/policy.md §7 — 000 三(二)): an elder's score on the
five-point scale and a comment about an item, a provider or both — recorded by street workers
through the API for the elders of their area, imported from survey sheets (every bad row named
by line and field, a re-import changes nothing), or entered by bureau staff in the admin."""

import datetime
import io

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from openpyxl import Workbook

from accounts.choices import AuditAction, Role
from accounts.dates import today
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import OutOfScopeWrite
from regions.models import Region
from residents.id_numbers import with_check_character
from servicelist.choices import SatisfactionScore, SurveySource
from servicelist.importing import SURVEY_COLUMNS, import_surveys
from servicelist.models import SatisfactionSurvey, ServiceItem
from servicelist.services import Provider, find_item, record_survey
from tests.factories import ElderFactory, FacilityFactory

D = datetime.date
JUNE = D(2024, 6, 3)


def region(code):
    return Region.objects.get(code=code)


@pytest.fixture
def people(service_items):
    cuiyuan, beishan, haishu = region("330106004001"), region("330106001001"), region("330203")

    def elder(serial, name, place, **extra):
        return ElderFactory(
            id_number=with_check_character(f"{place.code[:6]}19400101{serial:03d}"),
            name=name,
            hukou_region=place,
            residence_region=place,
            **extra,
        )

    return {
        "here": elder(11, "翠苑老人", cuiyuan),
        "there": elder(12, "北山老人", beishan),
        "ningbo": elder(13, "宁波老人", haishu),
        "canteen": FacilityFactory(name="翠苑老年食堂", region=region("330106004")),
    }


def street_worker(name="cuiyuan-surveyor"):
    worker = User.objects.create_user(name)
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    return worker


def meal():
    return ServiceItem.objects.get(code="330106:10")


# --- the scale and the record, as the database holds them ---------------------------------------


def test_the_scale_runs_from_1_very_dissatisfied_to_5_very_satisfied():
    assert [(s.value, str(s.label)) for s in SatisfactionScore] == [
        (1, "很不满意"),
        (2, "不满意"),
        (3, "一般"),
        (4, "满意"),
        (5, "很满意"),
    ]


@pytest.mark.parametrize("score", [0, 6])
def test_the_database_refuses_a_score_off_the_scale(people, score):
    with pytest.raises(IntegrityError), transaction.atomic():
        SatisfactionSurvey.objects.create(
            elder=people["here"], item=meal(), surveyed_on=JUNE, score=score, source="admin"
        )


def test_the_database_refuses_an_answer_about_nothing(people):
    with pytest.raises(IntegrityError), transaction.atomic():
        SatisfactionSurvey.objects.create(
            elder=people["here"], surveyed_on=JUNE, score=4, source="admin"
        )


def test_the_database_keeps_one_answer_per_elder_provider_and_day_without_an_item(people):
    SatisfactionSurvey.objects.create(
        elder=people["here"], provider_name="翠苑助餐点", surveyed_on=JUNE, score=4, source="admin"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SatisfactionSurvey.objects.create(
            elder=people["here"],
            provider_name="翠苑助餐点",
            surveyed_on=JUNE,
            score=2,
            source="admin",
        )


# --- the service --------------------------------------------------------------------------------


def test_an_answer_is_recorded_once_and_a_changed_score_updates_it(people):
    first = record_survey(
        elder=people["here"], surveyed_on=JUNE, score=4, item=meal(), comment=" 饭菜可口 "
    )
    assert first.created and first.survey.comment == "饭菜可口"
    again = record_survey(
        elder=people["here"], surveyed_on=JUNE, score=4, item=meal(), comment="饭菜可口"
    )
    assert not again.created and not again.updated
    changed = record_survey(elder=people["here"], surveyed_on=JUNE, score=2, item=meal())
    assert changed.updated and changed.survey.pk == first.survey.pk
    assert SatisfactionSurvey.objects.get().score == 2
    assert SatisfactionSurvey.history.count() == 2


def test_an_answer_about_a_provider_alone_is_recorded(people):
    result = record_survey(
        elder=people["here"],
        surveyed_on=JUNE,
        score=5,
        provider=Provider(people["canteen"], people["canteen"].name),
    )
    assert result.survey.item is None
    assert result.survey.provider_facility == people["canteen"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"surveyed_on": "tomorrow"}, "date", "晚于今天"),
        ({"surveyed_on": D(1939, 12, 31)}, "date", "早于出生日期"),
        ({"score": 6}, "score", "1（很不满意）至 5（很满意）"),
        ({"score": 0}, "score", "1（很不满意）至 5（很满意）"),
        ({"item": None}, "item", "至少一项"),
        ({"comment": "很" * 1001}, "comment", "1000"),
    ],
)
def test_a_bad_answer_is_refused_naming_its_field(people, change, field, words):
    values = {"elder": people["here"], "surveyed_on": JUNE, "score": 4, "item": meal()}
    values.update(change)
    if values["surveyed_on"] == "tomorrow":
        values["surveyed_on"] = today() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        record_survey(**values)
    assert words in refused.value.message_dict[field][0]
    assert not SatisfactionSurvey.objects.exists()


def test_an_answer_after_the_elder_s_death_is_refused(people):
    elder = people["here"]
    elder.death_date = D(2024, 5, 31)
    elder.save()
    with pytest.raises(ValidationError) as refused:
        record_survey(elder=elder, surveyed_on=JUNE, score=4, item=meal())
    assert "死亡日期" in refused.value.message_dict["date"][0]


def test_an_item_of_another_region_is_refused_for_the_elder(people):
    with pytest.raises(ValidationError) as refused:
        record_survey(elder=people["ningbo"], surveyed_on=JUNE, score=4, item=meal())
    assert "不适用于宁波老人" in refused.value.message_dict["item"][0]


def test_an_item_not_yet_in_force_that_day_is_refused(people):
    with pytest.raises(ValidationError) as refused:
        find_item("330106:10", D(2023, 6, 1), delivered=False)
    assert "不在有效期内" in refused.value.message_dict["item"][0]


def test_a_street_worker_records_only_the_elders_of_the_street(people):
    worker = street_worker()
    record_survey(elder=people["here"], surveyed_on=JUNE, score=4, item=meal(), by=worker)
    with pytest.raises(OutOfScopeWrite):
        record_survey(elder=people["there"], surveyed_on=JUNE, score=4, item=meal(), by=worker)
    assert SatisfactionSurvey.objects.get().recorded_by == worker


# --- survey sheets ------------------------------------------------------------------------------


def csv_bytes(rows):
    lines = [",".join(SURVEY_COLUMNS), *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def good_rows(people):
    here = people["here"].id_number
    return [
        ["330106:10", people["canteen"].code, here, "2024-06-03", "5", "饭菜可口"],
        ["330106:17", "", here, "2024-06-03", "4", ""],
        ["", "翠苑助餐点", here, "2024-06-04", "3", "=HYPERLINK(1)"],
    ]


def test_a_survey_sheet_is_recorded_and_a_resend_changes_nothing(people):
    content = csv_bytes(good_rows(people))
    first = import_surveys(content, "surveys.csv")
    assert first.summary == "created 3, updated 0, rejected 0"
    assert set(SatisfactionSurvey.objects.values_list("source", flat=True)) == {SurveySource.IMPORT}
    again = import_surveys(content, "surveys.csv")
    assert again.summary == "created 0, updated 0, rejected 0"
    assert SatisfactionSurvey.objects.count() == 3
    assert SatisfactionSurvey.history.count() == 3


def test_a_corrected_score_updates_its_answer(people):
    import_surveys(csv_bytes(good_rows(people)), "surveys.csv")
    rows = good_rows(people)
    rows[0][4] = "2"
    result = import_surveys(csv_bytes(rows), "surveys.csv")
    assert result.summary == "created 0, updated 1, rejected 0"


def test_every_bad_row_of_a_survey_sheet_is_named_by_line_and_field(people):
    here, there = people["here"].id_number, people["ningbo"].id_number
    future = (today() + datetime.timedelta(days=1)).isoformat()
    rows = [
        *good_rows(people),
        ["330106:99", "", here, "2024-06-03", "4", ""],  # no such item
        ["330106:10", "", "330106194001010000", "2024-06-03", "4", ""],  # bad ID number
        ["330106:10", "", here, "2024-13-01", "4", ""],  # no such date
        ["330106:10", "", here, future, "4", ""],  # in the future
        ["330106:10", "", here, "2024-06-05", "6", ""],  # off the scale
        ["330106:10", "", here, "2024-06-05", "很好", ""],  # not a number
        ["330106:10", "", here, "2024-06-05", "", ""],  # no score
        ["", "", here, "2024-06-05", "4", ""],  # about nothing
        ["330106:10", "", there, "2024-06-05", "4", ""],  # a Xihu item for a Ningbo elder
        ["330106:10", "", here, "2023-06-05", "4", ""],  # before Xihu's list
    ]
    result = import_surveys(csv_bytes(rows), "surveys.csv")
    assert result.summary == "created 3, updated 0, rejected 10"
    assert [(e.row, e.field) for e in result.errors] == [
        (5, "item"),
        (6, "id_number"),
        (7, "date"),
        (8, "date"),
        (9, "score"),
        (10, "score"),
        (11, "score"),
        (12, "item"),
        (13, "item"),
        (14, "item"),
    ]
    assert SatisfactionSurvey.objects.count() == 3


def test_a_header_without_the_score_column_refuses_the_file(people):
    from residents.importing import ImportFileError

    content = b"item,provider,id_number,date,comment\n"
    with pytest.raises(ImportFileError, match="score"):
        import_surveys(content, "surveys.csv")


def test_a_dry_run_checks_and_writes_nothing(people):
    result = import_surveys(csv_bytes(good_rows(people)), "surveys.csv", dry_run=True)
    assert result.summary == "created 3, updated 0, rejected 0"
    assert not SatisfactionSurvey.objects.exists()


def test_an_xlsx_sheet_is_read_like_a_csv(people):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(SURVEY_COLUMNS)
    for row in good_rows(people):
        sheet.append([int(c) if c.isdigit() and len(c) == 1 else c for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert import_surveys(buffer.getvalue(), "surveys.xlsx").created == 3


def test_the_import_by_a_street_worker_rejects_the_elders_of_other_streets(people):
    rows = [*good_rows(people), ["330106:10", "", people["there"].id_number, "2024-06-03", "4", ""]]
    result = import_surveys(csv_bytes(rows), "surveys.csv", by=street_worker())
    assert result.summary == "created 3, updated 0, rejected 1"
    assert (result.errors[0].row, result.errors[0].field) == (5, "id_number")


def test_the_command_prints_the_summary_last_writes_the_errors_and_is_audited(
    people, tmp_path, capsys
):
    path = tmp_path / "surveys.csv"
    path.write_bytes(csv_bytes([*good_rows(people), ["330106:10", "", "x", "", "9", ""]]))
    errors = tmp_path / "errors.csv"
    call_command("import_surveys", str(path), "--errors", str(errors))
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "created 3, updated 0, rejected 1"
    assert errors.read_text(encoding="utf-8").splitlines()[1].startswith("5,id_number,")
    entry = AuditEntry.objects.get(object_type="satisfaction_surveys")
    assert entry.action == AuditAction.IMPORT
    assert entry.details["summary"] == "created 3, updated 0, rejected 1"


# --- the street workers' API --------------------------------------------------------------------


def post(client, body):
    return client.post("/api/servicelist/surveys/", body, content_type="application/json")


def test_a_street_worker_posts_an_answer_once_with_the_number_masked(people, client):
    client.force_login(street_worker())
    body = {
        "item": "330106:10",
        "provider": people["canteen"].code,
        "id_number": people["here"].id_number,
        "date": "2024-06-03",
        "score": 4,
        "comment": "送餐准时",
    }
    first = post(client, body)
    assert first.status_code == 201, first.content
    answer = first.json()["survey"]
    assert answer["item"] == "330106:10" and answer["score"] == 4
    assert answer["provider_name"] == "翠苑老年食堂"
    assert people["here"].id_number not in first.content.decode()
    again = post(client, body)
    assert again.status_code == 200 and again.json()["created"] is False
    assert SatisfactionSurvey.objects.get().source == SurveySource.WORKER


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score": 6}, "score"),
        ({"item": "330106:99"}, "item"),
        ({"item": "", "provider": ""}, "item"),
        ({"date": "2099-01-01"}, "date"),
    ],
)
def test_the_api_refuses_bad_input_naming_the_field(people, client, change, field):
    client.force_login(street_worker())
    body = {
        "item": "330106:10",
        "id_number": people["here"].id_number,
        "date": "2024-06-03",
        "score": 4,
        **change,
    }
    refused = post(client, body)
    assert refused.status_code == 400 and field in refused.json(), refused.content
    assert not SatisfactionSurvey.objects.exists()


def test_the_api_does_not_tell_an_elder_of_another_street_from_a_stranger(people, client):
    client.force_login(street_worker())
    body = {"item": "330106:10", "date": "2024-06-03", "score": 4}
    outside = post(client, {**body, "id_number": people["there"].id_number})
    unknown = post(client, {**body, "id_number": with_check_character("33010619400101099")})
    assert outside.status_code == unknown.status_code == 400
    assert outside.json() == unknown.json()


def test_an_auditor_reads_but_records_no_answer(people, client):
    auditor = User.objects.create_user("auditor-surveys")
    RoleAssignment.objects.create(user=auditor, role=Role.AUDITOR, region=region("330106"))
    client.force_login(auditor)
    body = {"item": "330106:10", "id_number": people["here"].id_number, "date": "2024-06-03"}
    assert post(client, {**body, "score": 4}).status_code == 403
    assert client.get("/api/servicelist/surveys/").status_code == 200


def test_a_street_worker_reads_only_the_answers_of_the_street_masked(people, client):
    import_surveys(
        csv_bytes(
            [
                *good_rows(people),
                ["330106:10", "", people["there"].id_number, "2024-06-03", "1", ""],
            ]
        ),
        "surveys.csv",
    )
    client.force_login(street_worker())
    body = client.get("/api/servicelist/surveys/").json()
    assert body["count"] == 3
    assert {row["elder_name"] for row in body["results"]} == {"翠苑老人"}
    assert all("*" in row["id_number"] for row in body["results"])


# --- the admin, for bureau staff ----------------------------------------------------------------


@pytest.fixture
def bureau(people):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("xihu-surveys", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="servicelist"))
    RoleAssignment.objects.create(user=user, role=Role.BUREAU, region=region("330106"))
    return User.objects.get(pk=user.pk)


def add_in_admin(client, user, **fields):
    client.force_login(user)
    form = {"item": "", "provider": "", "surveyed_on": "2024-06-03", "score": "5", **fields}
    return client.post(reverse("admin:servicelist_satisfactionsurvey_add"), form)


def test_bureau_staff_enter_an_answer_in_the_admin(people, bureau, client):
    response = add_in_admin(
        client,
        bureau,
        elder=people["here"].pk,
        item=meal().pk,
        provider="翠苑助餐点",
        comment="电话回访",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    answer = SatisfactionSurvey.objects.get()
    assert (answer.source, answer.provider_name, answer.recorded_by) == (
        SurveySource.ADMIN,
        "翠苑助餐点",
        bureau,
    )


def test_the_admin_shows_a_refusal_on_the_form_and_writes_nothing(people, bureau, client):
    response = add_in_admin(client, bureau, elder=people["here"].pk)
    assert response.status_code == 200
    assert "至少一项" in response.content.decode()
    assert not SatisfactionSurvey.objects.exists()


def test_the_admin_offers_no_elder_outside_the_bureau_s_region(people, bureau, client):
    response = add_in_admin(client, bureau, elder=people["ningbo"].pk, provider="某服务商")
    assert response.status_code == 200
    assert "elder" in response.context["adminform"].form.errors
    assert not SatisfactionSurvey.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"surveyed_on": "2099-06-03"}, "surveyed_on", "晚于今天"),
        ({"surveyed_on": "1939-06-03"}, "surveyed_on", "早于出生日期"),
        ({"score": "7"}, "score", "7"),
    ],
)
def test_the_admin_shows_a_refusal_beside_its_field(people, bureau, client, change, field, words):
    """The service names the sheets' columns (date, score, id_number); the admin shows each
    message beside the form's own field, not above the form."""
    response = add_in_admin(client, bureau, elder=people["here"].pk, item=meal().pk, **change)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert words in errors[field][0]
    assert "__all__" not in errors
    assert not SatisfactionSurvey.objects.exists()


def test_the_admin_shows_a_refusal_of_the_elder_beside_the_elder(
    people, bureau, client, monkeypatch
):
    """A refusal the service names by the sheets' ``id_number`` (the writer does not cover
    the elder, say, had the form's own check been passed) is shown beside the elder."""
    import servicelist.admin

    def refuse(**kwargs):
        raise ValidationError({"id_number": "不在您的工作范围内"})

    monkeypatch.setattr(servicelist.admin, "record_survey", refuse)
    response = add_in_admin(client, bureau, elder=people["here"].pk, item=meal().pk)
    errors = response.context["adminform"].form.errors
    assert errors["elder"] == ["不在您的工作范围内"] and "__all__" not in errors
