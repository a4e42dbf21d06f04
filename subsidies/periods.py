"""The months the system pays for (periods of runs and batches): ``YYYY-MM``, from January
2000 to December of next year.

Allowances paid through this system start long after 2000, and a run is prepared at most some
months ahead; a month outside that range is a typing error (``0205-05``) or a probe
(``0000-01``, ``5085-09``), refused with a message naming the field before it reaches a run, a
batch or the date arithmetic. One definition for the API, the admin, the commands and the
services.
"""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

FIRST_PERIOD = datetime.date(2000, 1, 1)
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN, re.ASCII)


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(first: datetime.date, months: int) -> datetime.date:
    """The first of the month ``months`` after (or before) the month of ``first``."""
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def last_period(today: datetime.date | None = None) -> datetime.date:
    """December of the year after ``today`` (the local date by default)."""
    today = today or timezone.localdate()
    return datetime.date(today.year + 1, 12, 1)


def _out_of_range(month: str, field: str, today: datetime.date | None) -> ValidationError:
    first, last = FIRST_PERIOD, last_period(today)
    return ValidationError(
        {
            field: _("月份 %(month)s 超出系统支持的范围（%(first)s 至 %(last)s）。")
            % {"month": month, "first": f"{first:%Y-%m}", "last": f"{last:%Y-%m}"}
        }
    )


def check_period(
    period: datetime.date, *, field: str = "period", today: datetime.date | None = None
) -> datetime.date:
    """The month's first day, or ValidationError on ``field`` naming the range."""
    period = period.replace(day=1)
    if not FIRST_PERIOD <= period <= last_period(today):
        raise _out_of_range(f"{period:%Y-%m}", field, today)
    return period


def parse_period(
    text: str, *, field: str = "period", today: datetime.date | None = None
) -> datetime.date:
    """``YYYY-MM`` as the month's first day, within the range; else ValidationError on
    ``field`` saying what is expected."""
    text = (text or "").strip()
    if not _PERIOD.match(text):
        raise ValidationError(
            {field: _("月份 %(text)s 应为 YYYY-MM 格式，例如 2024-05。") % {"text": repr(text)}}
        )
    if not FIRST_PERIOD.year <= int(text[:4]) <= last_period(today).year:
        raise _out_of_range(text, field, today)  # before making a date: year 0 is none
    return check_period(datetime.date(int(text[:4]), int(text[5:]), 1), field=field, today=today)


def parse_months(
    text: str, *, field: str = "period", today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """``YYYY-MM`` (a month) or ``YYYY`` (its twelve months) as the first and the last month,
    within the range; else ValidationError on ``field``."""
    text = (text or "").strip()
    if len(text) == 4 and text.isdigit():
        first = parse_period(f"{text}-01", field=field, today=today)
        return first, datetime.date(first.year, 12, 1)
    month = parse_period(text, field=field, today=today)
    return month, month
