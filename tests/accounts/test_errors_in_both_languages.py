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
