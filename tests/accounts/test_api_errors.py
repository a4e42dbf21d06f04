"""The API's one exception handler: a service's refusal answers 400 naming the field, a
collision with an existing record 409 naming the field, a refusal of the writer 403 — from the
service's exception or from the database's constraint, never with the constraint's name."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.api.exceptions import exception_handler
from accounts.errors import Conflict
from regions.models import PolicyValue, Region
from regions.services import PolicyChangeRefused

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime.date(2030, 1, 1)


def _answer(error: Exception) -> tuple[int, dict]:
    response = exception_handler(error, {})
    return response.status_code, json.loads(json.dumps(response.data))


def _refused(create) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        create()
    return caught.value


def _policy_value(region: Region, **values) -> PolicyValue:
    fields = {
        "region": region,
        "key": "test_key",
        "value": 1,
        "unit": "yuan",
        "effective_from": DAY,
        "citation": "test",
    }
    return PolicyValue.objects.create(**{**fields, **values})


def test_a_validation_error_answers_400_by_field():
    status, body = _answer(ValidationError({"period": "月份应为 YYYY-MM 格式。"}))
    assert status == 400 and body == {"period": ["月份应为 YYYY-MM 格式。"]}


def test_a_validation_error_of_the_whole_record_answers_400_as_non_field_errors():
    assert _answer(ValidationError("批次已审核。")) == (400, {"non_field_errors": ["批次已审核。"]})
    status, body = _answer(ValidationError({"__all__": ["两个日期相反。"]}))
    assert status == 400 and body == {"non_field_errors": ["两个日期相反。"]}


def test_a_conflict_answers_409_by_field():
    status, body = _answer(Conflict({"bed": "床位 1-1 已有在住老人。"}))
    assert status == 409 and body == {"bed": ["床位 1-1 已有在住老人。"]}


def test_a_refused_writer_answers_403_with_the_reason():
    status, body = _answer(PolicyChangeRefused("只有区划的民政部门可以修改规则库。"))
    assert status == 403 and body == {"detail": "只有区划的民政部门可以修改规则库。"}


def test_a_duplicate_unique_field_answers_409_naming_the_field(zhejiang):
    taken = Region.objects.first()
    error = _refused(
        lambda: Region.objects.create(
            code=taken.code, name="重复", level=taken.level, parent=taken.parent
        )
    )
    status, body = _answer(error)
    assert status == 409 and list(body) == ["code"]
    assert "区划代码" in body["code"][0]


def test_a_duplicate_version_answers_409_with_the_constraints_own_message(zhejiang):
    region = Region.objects.get(code="330106")
    _policy_value(region)
    status, body = _answer(_refused(lambda: _policy_value(region)))
    assert status == 409
    assert body == {"region": ["该区划的这一参数在同一生效日期已有一个版本。"]}


def test_a_refused_value_answers_400_naming_the_field_not_the_constraint(zhejiang):
    region = Region.objects.get(code="330106")
    status, body = _answer(_refused(lambda: _policy_value(region, value=-1)))
    assert status == 400 and body == {"value": ["数值不能为负数。"]}
    assert "policy_value_not_negative" not in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("app", ["facilities", "residents", "subsidies", "visits"])
def test_no_view_translates_a_services_error_by_hand(app):
    source = (ROOT / app / "api" / "views.py").read_text()
    assert "except DjangoValidationError" not in source
    assert "except StayConflict" not in source
    assert "def _call(" not in source
