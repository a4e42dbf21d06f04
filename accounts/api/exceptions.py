"""The API's one translation of domain refusals into answers (REST_FRAMEWORK's handler).

Views call services and let their refusals through; nothing is translated by hand:

- Django ``ValidationError`` → 400 with the messages by field (``non_field_errors`` for the
  record as a whole);
- ``accounts.errors.Conflict`` and a unique or exclusion constraint refused by the database
  (``IntegrityError``) → 409 naming the field; another constraint refused (a check, a missing
  value) → 400 naming the field, never the constraint;
- ``PermissionError`` (``OutOfScope``, ``PolicyChangeRefused`` …) → 403 with its message;
- a write outside the writer's scope (``OutOfScopeWrite``) → as scoping answers reads.
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import CheckConstraint, F, Q, UniqueConstraint
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import Conflict
from accounts.scoping import OutOfScopeWrite

# SQLSTATE of the constraint violations (PostgreSQL): a record already there …
CONFLICT_STATES = {"23505", "23P01"}  # unique, exclusion
# … or a value the database refuses.
REFUSED_VALUE_STATES = {"23514", "23502", "23503"}  # check, not null, foreign key


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "与已有记录冲突。"
    default_code = "conflict"


def exception_handler(exc, context):
    """A write outside the writer's scope answers as scoping answers reads: 400 naming the
    field when the writer chose the outside value (a region, a related record), otherwise 404,
    the answer for a record the user cannot see (so its existence does not leak)."""
    if isinstance(exc, OutOfScopeWrite):
        exc = ValidationError({exc.field: [exc.message]}) if exc.field else NotFound()
    elif isinstance(exc, DjangoValidationError):
        detail = messages_by_field(exc)
        exc = ConflictError(detail) if isinstance(exc, Conflict) else ValidationError(detail)
    elif isinstance(exc, IntegrityError):
        exc = _constraint_refusal(exc)
    elif isinstance(exc, PermissionError):
        exc = PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


def messages_by_field(error: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
        for field, messages in error.message_dict.items()
    }


# --- a constraint the database refused --------------------------------------------------------


def _constraint_refusal(error: IntegrityError) -> APIException:
    """409 for a record already there, 400 for a refused value; either names the field (the
    first the constraint is about), found from the constraint the database names (PostgreSQL)
    or the columns it lists (SQLite), and says the constraint's own message when it has one."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    diag = getattr(cause, "diag", None)
    text = str(error)
    conflict = state in CONFLICT_STATES or (state is None and "UNIQUE constraint" in text)
    name = getattr(diag, "constraint_name", None)
    if name is None and state is None and "CHECK constraint failed: " in text:
        name = text.split("CHECK constraint failed: ", 1)[1].strip()
    fields, message = _constraints().get(name, ([], ""))
    if not fields:
        # SQLite names the columns of a unique constraint, not the constraint.
        fields = _fields_of_columns(diag, text)
        fields, message = _constraints().get(frozenset(fields), (fields, ""))
    key = fields[0].name if fields else api_settings.NON_FIELD_ERRORS_KEY
    labels = "、".join(str(f.verbose_name) for f in fields)
    if conflict:
        message = message or (f"{labels}：与已有记录重复。" if labels else "与已有记录冲突。")
        return ConflictError({key: [message]})
    message = message or (f"{labels}：取值不符合要求。" if labels else "数据不符合要求。")
    return ValidationError({key: [message]})


def _q_fields(condition: Q) -> set[str]:
    names = set()
    for child in condition.children:
        if isinstance(child, Q):
            names |= _q_fields(child)
        else:
            names.add(child[0].split("__")[0])
            if isinstance(child[1], F):
                names.add(child[1].name.split("__")[0])
    return names


@cache
def _constraints() -> dict[str | frozenset, tuple[list, str]]:
    """Every model constraint's name (and a unique constraint's set of fields) → the fields it
    is about, in their order of declaration, and its own message (empty when it has none: the
    default one names the constraint)."""
    found = {}
    for model in apps.get_models():
        opts = model._meta
        for constraint in opts.constraints:
            if isinstance(constraint, UniqueConstraint):
                names = set(constraint.fields)
            elif isinstance(constraint, CheckConstraint):
                names = _q_fields(constraint.condition)
            else:  # an exclusion constraint: its expressions, as field names or F()
                names = {
                    expression if isinstance(expression, str) else getattr(expression, "name", "")
                    for expression, _ in getattr(constraint, "expressions", ())
                }
            message = constraint.violation_error_message
            if message == constraint.default_violation_error_message:
                message = ""
            fields = [f for f in opts.concrete_fields if f.name in names]
            found[constraint.name] = (fields, str(message))
            if isinstance(constraint, UniqueConstraint) and constraint.condition is None:
                found[frozenset(fields)] = (fields, str(message))
    return found


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
