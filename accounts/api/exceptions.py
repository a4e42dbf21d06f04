"""The API's one translation of domain refusals into answers (REST_FRAMEWORK's handler)."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.scoping import OutOfScopeWrite


def exception_handler(exc, context):
    """A write outside the writer's scope answers as scoping answers reads: 400 naming the
    field when the writer chose the outside value (a region, a related record), otherwise 404,
    the answer for a record the user cannot see (so its existence does not leak)."""
    if isinstance(exc, OutOfScopeWrite):
        exc = ValidationError({exc.field: [exc.message]}) if exc.field else NotFound()
    return drf_exception_handler(exc, context)
