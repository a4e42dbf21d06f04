"""The API's documentation of the service list, subsidies and visits speaks the language it is
asked in: generated in English, their endpoints (operations, parameters, responses and the
schemas these use) carry no Chinese; generated in Chinese, their texts are Chinese."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

CJK = re.compile(r"[\u4e00-\u9fff]")
APPS = ("servicelist.", "subsidies.", "visits.", "dashboards.")


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


def parameter(document: dict, path: str, name: str) -> str:
    operation = document["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)["description"]


@pytest.fixture(scope="module")
def documents():
    return {language: schema(language) for language in ("en", "zh-hans")}


def test_the_documentation_of_these_apps_has_no_chinese_in_english(documents):
    document = documents["en"]
    paths = our_paths(document)
    assert {
        "/api/servicelist/coverage/",
        "/api/subsidies/insurers/",
        "/api/visits/compliance/",
    } <= set(paths)
    schemas, seen = document["components"]["schemas"], set()
    found = []
    for path in paths:
        found += texts(document["paths"][path], path, schemas, seen)
    left = [f"{where}: {text[:80]}" for where, text in found if CJK.search(text)]
    assert not left, "Chinese left in the English documentation:\n" + "\n".join(left)


def test_the_same_documentation_is_chinese_by_default(documents):
    chinese, english = documents["zh-hans"], documents["en"]
    assert parameter(chinese, "/api/subsidies/insurers/", "name") == "名称包含"
    assert parameter(english, "/api/subsidies/insurers/", "name") == "Name contains"
    # A date parameter's range follows the language of its description.
    assert parameter(chinese, "/api/visits/today/", "date").endswith("（1900-01-01 至 2999-12-31）")
    assert parameter(english, "/api/visits/today/", "date") == (
        "Date (default today) (1900-01-01 to 2999-12-31)"
    )
    surveys = chinese["components"]["schemas"]["SurveyInput"]["properties"]
    assert CJK.search(surveys["item"]["description"])
