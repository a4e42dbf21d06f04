"""The OpenAPI schema's view of an operation.

drf-spectacular describes an operation by its view's docstring when nothing else is given.
Ours are written for developers (in English, about scoping and services; a mixin's docstring
even stands for every view that uses it), not for the people who build on the API, and cannot
be translated. An operation's published description is what ``extend_schema`` (or
``extend_schema_view``) gives it, a lazy translation in the reader's language; without one
it has none rather than a developer's note.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_description(self):
        return ""
