"""Service refusals read in the reader's language: the Chinese a message is written in, and the
English of its catalogue entry, with the values it names in both. django-axes' pages (the
login lockout) are named in both languages too."""

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.scoping import OutOfScope, require_region_in_scope
from accounts.spreadsheets import SpreadsheetError, read_csv
from accounts.uploads import check_upload_size
from residents.id_numbers import parse_id_number


def _id_number_error(raw: str) -> str:
    with pytest.raises(ValidationError) as error:
        parse_id_number(raw)
    return " ".join(error.value.messages)


def test_an_id_number_refusal_names_what_is_wrong_in_either_language():
    assert _id_number_error("3301061944") == "身份证号应为18位，实际为10位。"
    with translation.override("en"):
        assert _id_number_error("3301061944") == "An ID number has 18 characters; this one has 10."
        assert _id_number_error("330106202302311230") == (
            "The birth date 20230231 in the ID number does not exist."
        )


def test_a_file_in_two_encodings_is_refused_naming_the_row_in_either_language():
    gb18030 = "id_number,name\n1,张三\n2,王五\n".encode("gb18030")
    mixed = gb18030 + "3,李四\n".encode()
    with pytest.raises(SpreadsheetError, match="第4行是 UTF-8 编码"):
        read_csv(mixed)
    with translation.override("en"), pytest.raises(SpreadsheetError) as error:
        read_csv(mixed)
    assert str(error.value).startswith("Row 4 is UTF-8, while the rest of the file is GB18030")


def test_an_upload_over_the_limit_says_its_size_and_the_limit(settings):
    settings.UPLOAD_MAX_MB = 1

    class Upload:
        size = 3 * 1024 * 1024

    with translation.override("en"), pytest.raises(ValidationError) as error:
        check_upload_size(Upload())
    assert error.value.messages == [
        "The file is too large (3.0 MB); the limit is 1 MB: split it into several files and "
        "upload them one by one."
    ]


def test_a_region_outside_the_users_area_is_named_in_either_language(zhejiang, django_user_model):
    from regions.models import Region

    ningbo = Region.objects.get(code="330200")
    user = django_user_model.objects.create_user("nobody")
    with pytest.raises(OutOfScope, match="区划 330200（宁波市）不在您的权限范围内。"):
        require_region_in_scope(user, ningbo)
    with translation.override("en"), pytest.raises(OutOfScope) as error:
        require_region_in_scope(user, ningbo)
    assert str(error.value) == "Region 330200 (宁波市) is outside your area."


def test_the_login_lockout_is_named_in_chinese_and_english(admin_client):
    axes = apps.get_app_config("axes")
    with translation.override("zh-hans"):
        assert str(axes.verbose_name) == "登录锁定"
        assert str(AccessAttempt._meta.verbose_name_plural) == "登录尝试"
        assert str(AccessAttempt._meta.get_field("failures_since_start").verbose_name) == (
            "登录失败次数"
        )
    with translation.override("en"):
        assert str(axes.verbose_name) == "Login lockout"
        assert str(AccessAttempt._meta.verbose_name_plural) == "access attempts"
    page = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "登录锁定" in page and "登录尝试" in page and "Access attempts" not in page


def test_facility_region_and_visit_messages_read_in_either_language(db):
    from django.core.management import CommandError, call_command

    from regions import conditions
    from visits.services import unknown_elder_message

    def condition_error(condition) -> str:
        with pytest.raises(ValidationError) as error:
            conditions.validate(condition)
        return " ".join(error.value.messages)

    assert condition_error({"category": []}) == "条件.category：应为非空的代码列表。"
    assert conditions.describe({"age_at_least": 80}) == "年满80周岁"
    assert unknown_elder_message(7) == "没有编号为 7 的老年人。"
    with pytest.raises(CommandError, match="--facility: 没有编码为 NOPE 的机构。"):
        call_command("staffing_check", "--facility=NOPE")
    with translation.override("en"):
        assert condition_error({"category": []}) == (
            "condition.category: Should be a non-empty list of codes."
        )
        assert conditions.describe({"age_at_least": 80}) == "aged 80 or over"
        assert conditions.describe({"all": []}) == "no condition (everyone)"
        assert unknown_elder_message(7) == "There is no elder numbered 7."
        with pytest.raises(CommandError) as error:
            call_command("staffing_check", "--facility=NOPE")
        assert str(error.value) == "--facility: There is no facility with the code NOPE."


def test_a_bed_refused_in_a_facility_service_reads_in_either_language(db):
    from facilities import services
    from tests.factories import FacilityFactory

    facility = FacilityFactory()

    def refusal() -> dict:
        with pytest.raises(ValidationError) as error:
            services.create_bed(facility=facility, label="1-1")
        return error.value.message_dict

    assert refusal() == {"room": ["机构床位须选择房间。"]}
    with translation.override("en"):
        assert refusal() == {"room": ["A facility bed needs a room."]}


def test_the_assessment_items_are_named_in_either_language():
    from residents.models import AbilityAssessment

    eating = AbilityAssessment._meta.get_field("eating")
    assert str(eating.verbose_name) == "进食（0–4）"
    with translation.override("en"):
        assert str(eating.verbose_name) == "Eating（0–4）"


@pytest.fixture
def in_chinese():
    """The interface's language for the test, and back to what it was after it: a request
    with Accept-Language activates its language for the rest of the thread."""
    with translation.override("zh-hans"):
        yield


def _batches_staff(django_user_model, username: str, role: str):
    """A staff login with every permission of the subsidies app, in Xihu."""
    from django.contrib.auth.models import Permission

    from accounts.services import assign_role
    from regions.models import Region

    user = django_user_model.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="subsidies"))
    assign_role(user=user, role=role, region=Region.objects.get(code="330106"))
    return django_user_model.objects.get(pk=user.pk)


def test_an_admin_batch_action_refusal_reads_in_either_language(
    zhejiang, client, django_user_model, in_chinese
):
    import datetime

    from regions.models import Region
    from subsidies.batches import draft_batch_for

    xihu = Region.objects.get(code="330106")
    two = [draft_batch_for(xihu.pk, datetime.date(2024, month, 1)).pk for month in (4, 5)]
    client.force_login(_batches_staff(django_user_model, "cashier", "finance"))

    def notices(language: str) -> list[str]:
        response = client.post(
            "/admin/subsidies/paymentbatch/",
            {"action": "export_csv", "_selected_action": two},
            follow=True,
            HTTP_ACCEPT_LANGUAGE=language,
        )
        return [str(m) for m in response.context["messages"]]

    assert notices("zh-CN") == ["请只选择一个批次导出。"]
    assert notices("en") == ["Select exactly one batch to export."]
    url = f"/admin/subsidies/paymentbatch/{two[0]}/export/"
    answer = client.post(
        url, {"format": "csv", "layout": "plain"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert [str(m) for m in answer.context["messages"]] == [
        "Layout 'plain' is not supported: use bank or finance."
    ]


def test_an_api_refusal_of_a_facility_subsidy_reads_in_either_language(
    zhejiang, django_user_model, in_chinese
):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(_batches_staff(django_user_model, "officer", "bureau"))
    payload = {"facility": 999999, "kind": "operating", "year": 2024}

    def refusal(language: str) -> dict:
        response = client.post(
            "/api/subsidies/facility-subsidies/", payload, HTTP_ACCEPT_LANGUAGE=language
        )
        assert response.status_code == 400
        return response.json()

    assert refusal("zh-CN") == {"facility": "没有该机构，或不在您的权限范围内。"}
    assert refusal("en") == {"facility": "There is no such facility, or it is outside your area."}


def test_a_facility_subsidy_rule_refusal_reads_in_either_language(zhejiang, in_chinese):
    from subsidies.grants import grant_facility_subsidy
    from tests.factories import FacilityFactory

    institution = FacilityFactory(name="西湖养老院")

    def refusal(**values) -> dict:
        with pytest.raises(ValidationError) as error:
            grant_facility_subsidy(facility=institution, year=2024, **values)
        return error.value.message_dict

    terminal = {"kind": "smart_terminal", "amount": "1000"}
    assert refusal(**terminal) == {
        "facility": ["西湖养老院为“养老机构”，该补助只适用于居家养老服务中心和照料中心。"]
    }
    assert refusal(kind="lottery") == {"kind": ["补助类型 'lottery' 不存在。"]}
    with translation.override("en"):
        assert refusal(**terminal) == {
            "facility": [
                "西湖养老院 is a “Care institution”: This subsidy applies only to home-care "
                "service centres and day-care centres."
            ]
        }
        assert refusal(kind="lottery") == {"kind": ["Subsidy type 'lottery' does not exist."]}
        assert refusal(kind="smart_care_home", amount="0") == {
            "facility": [
                "西湖养老院 is a “Care institution”: This subsidy applies only to smart care homes."
            ]
        }
