"""Check a response of Django's test client against the project's OpenAPI schema (the one
/api/schema/ serves) with schemathesis' own conformance check, so an endpoint's documented
shape is held to what it really returns (the fuzzing test seldom reaches real data)."""

from __future__ import annotations

import functools
import json

import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis.core.transport import Response


@functools.cache
def _schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))


def assert_matches_schema(method: str, path: str, response) -> None:
    """``path`` is the schema's template (``/api/visits/tasks/{id}/close/``). The status must
    be documented with a body, and the body must match it."""
    operation = _schema()[path][method.upper()]
    documented = operation.definition.raw["responses"].get(str(response.status_code), {})
    assert documented.get("content"), f"{method} {path}: {response.status_code} has no schema"
    request = requests.Request(method.upper(), f"http://testserver{path}").prepare()
    operation.validate_response(
        Response(
            status_code=response.status_code,
            headers={key.lower(): [value] for key, value in response.headers.items()},
            content=response.content,
            request=request,
            elapsed=0.0,
            verify=True,
        )
    )
