"""Phone numbers of elders and their families (mainland China)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Mobile: 11 digits starting 13–19. Landline: area code 0 + 2–3 digits, then a 7–8 digit
# number, optionally an extension. An optional +86/0086 prefix is accepted on mobiles.
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}(-\d{1,6})?$")


def normalize_phone(raw: str) -> str:
    """Drop spaces and full-width characters people paste from spreadsheets; keep one form."""
    text = (raw or "").strip().replace("\u3000", "").replace("－", "-").replace("＋", "+")
    text = re.sub(r"[\s()（）]", "", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    if re.fullmatch(r"0\d{9,11}", text) and not _MOBILE.match(text):
        # 057187654321 → 0571-87654321 (Zhejiang's area codes are 4 digits; 010/02x are 3).
        area = 3 if text[1] in "12" else 4
        text = f"{text[:area]}-{text[area:]}"
    return text


def validate_phone(value: str) -> None:
    if not value:
        return
    if _MOBILE.match(value) or _LANDLINE.match(value):
        return
    raise ValidationError(
        _("联系电话 %(value)s 格式不正确：应为11位手机号或“区号-号码”形式的固定电话。")
        % {"value": value},
        code="phone",
    )
