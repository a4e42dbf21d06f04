"""Refusals shared by every app's services, answered alike by every edge.

A service refuses bad input with Django's ``ValidationError`` naming the field (the API answers
400), a write outside the writer's reach with a ``PermissionError`` (403), and a write that
collides with what is already there — a bed taken, a key already used — with ``Conflict`` (409).
``Conflict`` is a ``ValidationError``, so forms, the admin and commands show it like any other.
"""

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The write collides with an existing record; the message names the field and the record."""
