"""Users never read a constraint's name. The database constraints are the last word on every
invariant, and most of them say nothing of their own: Django's message for one is
“Constraint “stay_period_ordered” is violated.”. This module words each such refusal from the
constraint itself (the fields it is about, in their labels, and what it compares), once, for
every edge that shows one: the admin's forms (accounts.permissions), the API's error handler
(accounts.api.exceptions) and the services' refusals shown by admin actions.

Services still give the specific message first (naming the record and the dates); this is the
safety net for whatever reaches a constraint without one."""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError
from django.db.models import CheckConstraint, F, Q, UniqueConstraint
from django.db.models.constraints import BaseConstraint
from django.utils.translation import get_language
from django.utils.translation import gettext as _

# SQLSTATE of the constraint violations (PostgreSQL) that mean a record is already there;
# the others (check 23514, not null 23502, foreign key 23503) refuse a value.
CONFLICT_STATES = {"23505", "23P01"}  # unique, exclusion

_DATE_TYPES = ("DateField", "DateTimeField")


def _label(field) -> str:
    return str(field.verbose_name)


def _comparisons(condition: Q):
    """(field name, lookup, value) of every comparison in ``condition``."""
    for child in condition.children:
        if isinstance(child, Q):
            yield from _comparisons(child)
        else:
            name, *lookup = child[0].split("__")
            yield name, (lookup[-1] if lookup else "exact"), child[1]


def _q_fields(condition: Q) -> set[str]:
    names = set()
    for name, _lookup, value in _comparisons(condition):
        names.add(name)
        if isinstance(value, F):
            names.add(value.name.split("__")[0])
    return names


def _worded_comparison(model, condition: Q) -> str:
    """The rule a check constraint states, in words, when it orders two fields or bounds one by
    zero (the common shapes: an end not before its start, an amount not negative)."""
    opts = model._meta
    fields = {f.name: f for f in opts.concrete_fields}
    for name, lookup, value in _comparisons(condition):
        field = fields.get(name)
        if field is None:
            continue
        if isinstance(value, F) and value.name in fields:
            other = fields[value.name]
            dates = field.get_internal_type() in _DATE_TYPES
            if lookup in ("gte", "gt"):
                wording = _("%(a)s不能早于%(b)s。") if dates else _("%(a)s不能小于%(b)s。")
                return wording % {"a": _label(field), "b": _label(other)}
            if lookup in ("lte", "lt"):
                wording = _("%(a)s不能晚于%(b)s。") if dates else _("%(a)s不能大于%(b)s。")
                return wording % {"a": _label(field), "b": _label(other)}
        if value == 0 and lookup == "gte":
            return _("%(a)s不能为负数。") % {"a": _label(field)}
        if value == 0 and lookup == "gt":
            return _("%(a)s须大于 0。") % {"a": _label(field)}
    return ""


def constraint_fields(model, constraint) -> list:
    """The fields a constraint is about, in their order of declaration."""
    if isinstance(constraint, UniqueConstraint):
        names = set(constraint.fields)
    elif isinstance(constraint, CheckConstraint):
        names = _q_fields(constraint.condition)
    else:  # an exclusion constraint: its expressions, as field names or F()
        names = {
            expression if isinstance(expression, str) else getattr(expression, "name", "")
            for expression, _operator in getattr(constraint, "expressions", ())
        }
    return [f for f in model._meta.concrete_fields if f.name in names]


def has_own_message(constraint) -> bool:
    return constraint.violation_error_message != constraint.default_violation_error_message


def readable_message(model, constraint, *, conflict: bool | None = None) -> str:
    """What a user reads when ``constraint`` of ``model`` refuses a record: its own message if
    it has one, else the rule it states in the fields' labels."""
    if has_own_message(constraint):
        return str(constraint.get_violation_error_message())
    fields = constraint_fields(model, constraint)
    labels = "、".join(_label(f) for f in fields)
    if conflict is None:
        conflict = not isinstance(constraint, CheckConstraint)
    if conflict:
        if labels:
            return _("%(fields)s：与已有记录重复。") % {"fields": labels}
        return _("与已有记录冲突。")
    if isinstance(constraint, CheckConstraint):
        worded = _worded_comparison(model, constraint.condition)
        if worded:
            return worded
    if labels:
        return _("%(fields)s：取值不符合要求。") % {"fields": labels}
    return _("数据不符合要求。")


@cache
def _all_constraints() -> dict[str, tuple]:
    """Every model constraint by name: (model, constraint)."""
    return {
        constraint.name: (model, constraint)
        for model in apps.get_models()
        for constraint in model._meta.constraints
    }


@cache
def _default_texts(language: str) -> dict[str, str]:
    """Django's default message of each constraint without its own, in ``language``, → the
    readable one."""
    found = {}
    for model, constraint in _all_constraints().values():
        if not has_own_message(constraint):
            default = str(BaseConstraint.default_violation_error_message) % {
                "name": constraint.name
            }
            found[default] = readable_message(model, constraint)
    return found


def readable(text: str) -> str:
    """``text``, or, if it is a constraint's default message, that constraint's rule in words."""
    return _default_texts(get_language() or "").get(str(text), str(text))


def readable_errors(error: ValidationError) -> dict[str | None, list[str]]:
    """A ValidationError's messages by field (``None`` for the record as a whole), each
    readable."""
    if hasattr(error, "error_dict"):
        return {
            (None if field == NON_FIELD_ERRORS else field): [readable(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {None: [readable(m) for m in error.messages]}


def readable_text(error: ValidationError) -> str:
    """All the messages of a refusal in one line (admin actions' messages)."""
    return "；".join(m for messages in readable_errors(error).values() for m in messages)


# --- a constraint the database refused --------------------------------------------------------


def describe_integrity_error(error: IntegrityError) -> tuple[bool, list, str]:
    """(conflict, fields, message) of a constraint the database refused: a record already
    there (unique, exclusion) or a refused value (check, not null); the fields are those the
    constraint is about, found from the constraint the database names (PostgreSQL) or the
    columns it lists (SQLite); the message never names the constraint."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    diag = getattr(cause, "diag", None)
    text = str(error)
    conflict = state in CONFLICT_STATES or (state is None and "UNIQUE constraint" in text)
    name = getattr(diag, "constraint_name", None)
    if name is None and state is None and "CHECK constraint failed: " in text:
        name = text.split("CHECK constraint failed: ", 1)[1].strip()
    found = _all_constraints().get(name)
    if found is not None:
        model, constraint = found
        return (
            conflict,
            constraint_fields(model, constraint),
            readable_message(model, constraint, conflict=conflict),
        )
    # SQLite names the columns of a unique constraint (or of a missing value), not the
    # constraint.
    fields = _fields_of_columns(diag, text)
    for model, constraint in _all_constraints().values():
        if (
            isinstance(constraint, UniqueConstraint)
            and constraint.condition is None
            and fields
            and set(constraint_fields(model, constraint)) == set(fields)
        ):
            return conflict, fields, readable_message(model, constraint, conflict=conflict)
    labels = "、".join(_label(f) for f in fields)
    if conflict:
        message = (
            _("%(fields)s：与已有记录重复。") % {"fields": labels}
            if labels
            else _("与已有记录冲突。")
        )
    else:
        message = (
            _("%(fields)s：取值不符合要求。") % {"fields": labels}
            if labels
            else _("数据不符合要求。")
        )
    return conflict, fields, message


def _fields_of_columns(diag, text: str) -> list:
    """The fields of a table's columns the database names: SQLite's ``UNIQUE constraint failed:
    table.column, …`` and ``NOT NULL constraint failed: table.column``, PostgreSQL's column of a
    missing value and the key of a duplicate (its detail ``Key (column, …)=(…)``)."""
    pairs = []
    table = getattr(diag, "table_name", None)
    detail = getattr(diag, "message_detail", None) or ""
    if table and getattr(diag, "column_name", None):
        pairs = [(table, diag.column_name)]
    elif table and detail.startswith("Key ("):  # Key (a, b)=(…) already exists.
        columns = detail[len("Key (") :].split(")=", 1)[0]
        pairs = [(table, c.strip().strip('"')) for c in columns.split(",")]
    elif "constraint failed: " in text:
        listed = text.split("constraint failed: ", 1)[1]
        pairs = [tuple(p.strip().split(".", 1)) for p in listed.split(",") if "." in p]
    fields = []
    for table, column in pairs:
        model = next((m for m in apps.get_models() if m._meta.db_table == table), None)
        if model is not None:
            fields += [f for f in model._meta.concrete_fields if f.column == column]
    return fields
