"""Chinese resident identity numbers (GB 11643-1999).

The check character is ISO 7064 MOD 11-2 (python-stdnum's implementation). We do not call
``stdnum.cn.ric.validate``: it rejects a region code that was not yet (or no longer) valid in the
birth year, but elders' numbers were issued from the 1980s on, so a person born in 1944 can
legitimately carry 330106 (created 1983) or 330103 (abolished 2021). Any current or historical
GB/T 2260 code is accepted instead.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.iso7064 import mod_11_2

from regions.divisions import is_known_region_code

_SHAPE = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdNumberFacts:
    region_code: str
    birth_date: datetime.date
    sex: str  # "M" or "F"


def normalize_id_number(raw: str) -> str:
    """Strip spaces (including full-width ones) and upper-case a trailing x."""
    return re.sub(r"\s+", "", raw or "").replace("\u3000", "").upper()


def parse_id_number(raw: str, *, today: datetime.date | None = None) -> IdNumberFacts:
    """Validate and decode an ID number; ValidationError says exactly what is wrong."""
    number = normalize_id_number(raw)
    if len(number) != 18:
        raise ValidationError(
            _("身份证号应为18位，实际为%(length)s位。") % {"length": len(number)}, code="length"
        )
    if not _SHAPE.match(number):
        raise ValidationError(_("身份证号前17位应为数字，末位为数字或X。"), code="format")
    if not mod_11_2.is_valid(number):
        raise ValidationError(_("身份证号校验位不正确。"), code="checksum")
    try:
        birth_date = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("身份证号中的出生日期 %(date)s 不存在。") % {"date": number[6:14]}, code="birth_date"
        ) from None
    today = today or datetime.date.today()
    if birth_date > today:
        raise ValidationError(
            _("身份证号中的出生日期 %(date)s 晚于今天。") % {"date": birth_date}, code="birth_date"
        )
    if birth_date.year < 1880:
        raise ValidationError(
            _("身份证号中的出生日期 %(date)s 不合理。") % {"date": birth_date}, code="birth_date"
        )
    region_code = number[:6]
    if not is_known_region_code(region_code):
        raise ValidationError(
            _("身份证号中的地区码 %(code)s 不是现行或历史上的行政区划代码。")
            % {"code": region_code},
            code="region",
        )
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return IdNumberFacts(region_code=region_code, birth_date=birth_date, sex=sex)


def validate_id_number(raw: str) -> None:
    parse_id_number(raw)


def mask_id_number(number: str) -> str:
    """330106********123X: region kept for routing, birth date and sequence hidden."""
    if len(number) != 18:
        return "*" * len(number)
    return f"{number[:6]}{'*' * 8}{number[14:]}"


def with_check_character(first17: str) -> str:
    """Complete 17 digits with their MOD 11-2 check character (for tests and demo data)."""
    return first17 + mod_11_2.calc_check_digit(first17)
