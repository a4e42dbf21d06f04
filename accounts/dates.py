"""Dates a user types, checked the same way by every service: never after today (a stay, a
visit, a health check or an application records something that has happened) and never out of
order with the record's other dates. Each refusal is a ``ValidationError`` naming the field, in
the words of the field's label, so the admin, the API and the imports say the same thing."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


def today() -> datetime.date:
    """Today in the project's time zone (Asia/Shanghai), not the server's."""
    return timezone.localdate()


def refuse_future(value: datetime.date | None, *, field: str, label: str, on=None) -> None:
    """``value`` (the ``field`` called ``label``) is a day that has already come."""
    on = on or today()
    if value is not None and value > on:
        raise ValidationError(
            {
                field: _("%(label)s %(value)s 晚于今天（%(today)s），不能登记尚未发生的日期。")
                % {"label": label, "value": value, "today": on}
            },
            code="future_date",
        )


def refuse_before(
    value: datetime.date | None,
    earliest: datetime.date | None,
    *,
    field: str,
    label: str,
    earliest_label: str,
) -> None:
    """``value`` is on or after ``earliest`` (another date of the record, named
    ``earliest_label``)."""
    if value is not None and earliest is not None and value < earliest:
        message = _("%(label)s %(value)s 早于%(other)s %(earliest)s。")
        _refuse_order(field, message, label, value, earliest_label, earliest=earliest)


def refuse_after(
    value: datetime.date | None,
    latest: datetime.date | None,
    *,
    field: str,
    label: str,
    latest_label: str,
) -> None:
    """``value`` is on or before ``latest`` (another date of the record, named
    ``latest_label``)."""
    if value is not None and latest is not None and value > latest:
        message = _("%(label)s %(value)s 晚于%(other)s %(latest)s。")
        _refuse_order(field, message, label, value, latest_label, latest=latest)


def _refuse_order(field, message, label, value, other, **bound) -> None:
    raise ValidationError(
        {field: message % {"label": label, "value": value, "other": other, **bound}},
        code="date_order",
    )


def check_elder_date(
    elder, value: datetime.date | None, *, field: str, label: str, allow_after_death=False
) -> None:
    """A date of an elder's life: not in the future, not before their birth, not after their
    death (unless ``allow_after_death``: the end of a period closed by the death)."""
    refuse_future(value, field=field, label=label)
    refuse_before(
        value,
        getattr(elder, "birth_date", None),
        field=field,
        label=label,
        earliest_label=_("出生日期"),
    )
    death = getattr(elder, "death_date", None)
    if not allow_after_death and value is not None and death is not None and value > death:
        raise ValidationError(
            {
                field: _("%(label)s %(value)s 晚于%(name)s的死亡日期 %(death)s。")
                % {"label": label, "value": value, "name": elder.name, "death": death}
            },
            code="after_death",
        )
