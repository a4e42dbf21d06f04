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

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext_lazy
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.constraint_messages import describe_integrity_error, readable_errors
from accounts.errors import Conflict
from accounts.scoping import OutOfScopeWrite


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("与已有记录冲突。")
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
    """The messages by field; a constraint's default message (which names the constraint) is
    replaced by the rule in words."""
    return {
        api_settings.NON_FIELD_ERRORS_KEY if field is None else field: messages
        for field, messages in readable_errors(error).items()
    }


# --- a constraint the database refused --------------------------------------------------------


def _constraint_refusal(error: IntegrityError) -> APIException:
    """409 for a record already there, 400 for a refused value; either names the field (the
    first the constraint is about) and says the rule in words (accounts.constraint_messages),
    never the constraint's name."""
    conflict, fields, message = describe_integrity_error(error)
    key = fields[0].name if fields else api_settings.NON_FIELD_ERRORS_KEY
    return (ConflictError if conflict else ValidationError)({key: [message]})
