"""Reading the API's documentation in one language, for the tests that check it speaks the
language it is asked in (tests/*/test_openapi_language.py)."""

from __future__ import annotations

import re

from django.utils import translation
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

CJK = re.compile(r"[\u4e00-\u9fff]")


def schema(language: str) -> dict:
    with translation.override(language):
        return SchemaGenerator().get_schema(request=None, public=True)


def template(path: str) -> str:
    """A path with its parameters unnamed: the schema calls ``{pk}`` ``{id}``."""
    return re.sub(r"\{\w+\}", "{}", path)


def paths_of(document: dict, apps: tuple[str, ...]) -> list[str]:
    """The documented paths whose views live in ``apps`` (module prefixes, "facilities.")."""
    ours = {
        template(path)
        for path, _regex, _method, callback in EndpointEnumerator().get_api_endpoints()
        if getattr(callback, "cls", callback).__module__.startswith(apps)
    }
    return sorted(path for path in document["paths"] if template(path) in ours)


def texts(node, where: str, schemas: dict, seen: set):
    """Every string under ``node`` with where it is, following ``$ref`` into the components."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    yield from texts(schemas[name], name, schemas, seen)
            else:
                yield from texts(value, f"{where}.{key}", schemas, seen)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from texts(value, f"{where}[{i}]", schemas, seen)
    elif isinstance(node, str):
        yield where, node


def chinese_left(document: dict, paths: list[str], *, info: bool = False) -> list[str]:
    """Where a text of ``paths`` (and of the schemas they use; with ``info``, of the title and
    description) holds Chinese, with the text's start."""
    schemas, seen = document["components"]["schemas"], set()
    found = list(texts(document["info"], "info", schemas, seen)) if info else []
    for path in paths:
        found += texts(document["paths"][path], path, schemas, seen)
    return [f"{where}: {text[:80]}" for where, text in found if CJK.search(text)]
