"""Masking of personal data (PIPL) in lists, API list responses and logs."""

from __future__ import annotations

import logging
import re

from residents.id_numbers import mask_id_number

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phone(phone: str) -> str:
    """138****5678 for mobiles; other numbers keep only their last four digits."""
    digits = phone or ""
    if _MOBILE.fullmatch(digits):
        return f"{digits[:3]}****{digits[7:]}"
    return ("*" * max(len(digits) - 4, 0)) + digits[-4:]


def mask_text(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0).upper()), text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


class MaskPersonalDataFilter(logging.Filter):
    """Masks ID and mobile numbers in every log record before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


__all__ = ["mask_id_number", "mask_phone", "mask_text", "MaskPersonalDataFilter"]
