"""Masking of personal data (PIPL) in lists, API list responses and logs.

Logs keep paths, never query strings: a search by ID number or name travels in the URL of a GET
(the admin's ``?q=``, autocomplete's ``?term=``) and would otherwise land in every access log.
"""

from __future__ import annotations

import logging
import re

from residents.id_numbers import mask_id_number

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
# A path or URL followed by its query string, as request lines, referers and messages show them.
_QUERY_STRING = re.compile(r"((?:[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'/?]*)?/[^\s\"'?]*)\?[^\s\"']*")


def mask_phone(phone: str) -> str:
    """138****5678 for mobiles; other numbers keep only their last four digits."""
    digits = phone or ""
    if _MOBILE.fullmatch(digits):
        return f"{digits[:3]}****{digits[7:]}"
    return ("*" * max(len(digits) - 4, 0)) + digits[-4:]


def mask_text(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0).upper()), text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def drop_query_strings(text: str) -> str:
    """``GET /admin/residents/elder/?q=… HTTP/1.1`` → ``GET /admin/residents/elder/ HTTP/1.1``."""
    return _QUERY_STRING.sub(r"\1", text)


def mask_log_text(text: str) -> str:
    return mask_text(drop_query_strings(text))


class MaskPersonalDataFilter(logging.Filter):
    """Before a record is written: paths without their query strings, ID and mobile numbers
    masked — in the message and in the traceback of an exception (whose message may quote the
    input)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return True


# Facts kept with a payment line ("why this amount") from which a masked ID number could be
# completed: the ID's hidden digits are the birth date. Shown as the age they already hold.
DERIVABLE_FACTS = frozenset({"birth_date"})


def without_derivable_facts(facts: dict | None) -> dict | None:
    if not isinstance(facts, dict):
        return facts
    return {key: value for key, value in facts.items() if key not in DERIVABLE_FACTS}


__all__ = [
    "mask_id_number",
    "mask_phone",
    "mask_text",
    "drop_query_strings",
    "mask_log_text",
    "without_derivable_facts",
    "MaskPersonalDataFilter",
]
