"""The API's documentation speaks the language it is asked in: generated in English, the
endpoints of accounts, facilities, regions and residents (their operations, parameters,
responses and the schemas these use) and the project's own parts (title, description,
pagination) carry no Chinese; generated in Chinese, they are Chinese."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

CJK = re.compile(r"[\u4e00-\u9fff]")
APPS = ("accounts.", "facilities.", "regions.", "residents.")


def schema(language: str) -> dict:
    with translation.override(language):
        return SchemaGenerator().get_schema(request=None, public=True)


def template(path: str) -> str:
    """A path with its parameters unnamed: the schema calls ``{pk}`` ``{id}``."""
    return re.sub(r"\{\w+\}", "{}", path)


def our_paths(document: dict) -> list[str]:
    """The documented paths whose views live in these apps."""
    ours = {
        template(path)
        for path, _regex, _method, callback in EndpointEnumerator().get_api_endpoints()
        if getattr(callback, "cls", callback).__module__.startswith(APPS)
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


@pytest.fixture(scope="module")
def documents():
    return {language: schema(language) for language in ("en", "zh-hans")}


def test_the_documentation_of_these_apps_has_no_chinese_in_english(documents):
    document = documents["en"]
    paths = our_paths(document)
    assert {"/api/facilities/staffing/", "/api/residents/elders/{id}/"} <= set(paths)
    schemas, seen = document["components"]["schemas"], set()
    found = list(texts(document["info"], "info", schemas, seen))
    for path in paths:
        found += texts(document["paths"][path], path, schemas, seen)
    left = [f"{where}: {text[:80]}" for where, text in found if CJK.search(text)]
    assert not left, "Chinese left in the English documentation:\n" + "\n".join(left)


def test_the_same_documentation_is_chinese_by_default(documents):
    document = documents["zh-hans"]
    staffing = document["paths"]["/api/facilities/staffing/"]["get"]
    assert CJK.search(document["info"]["title"]) and CJK.search(document["info"]["description"])
    assert any(
        p["name"] == "region" and CJK.search(p["description"]) for p in staffing["parameters"]
    )
    elders = document["paths"]["/api/residents/elders/"]["get"]["parameters"]
    limit = next(p for p in elders if p["name"] == "limit")
    assert "每页条数" in limit["description"]
    english = documents["en"]["paths"]["/api/residents/elders/"]["get"]["parameters"]
    assert "Rows per page" in next(p for p in english if p["name"] == "limit")["description"]
