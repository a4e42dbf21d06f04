"""The API's documentation of the service list, subsidies and visits speaks the language it is
asked in: generated in English, their endpoints (operations, parameters, responses and the
schemas these use) carry no Chinese; generated in Chinese, their texts are Chinese."""

from __future__ import annotations

import pytest

from tests.openapi_language import CJK, chinese_left, paths_of, schema

APPS = ("servicelist.", "subsidies.", "visits.", "dashboards.")


def parameter(document: dict, path: str, name: str) -> str:
    operation = document["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)["description"]


@pytest.fixture(scope="module")
def documents():
    return {language: schema(language) for language in ("en", "zh-hans")}


def test_the_documentation_of_these_apps_has_no_chinese_in_english(documents):
    document = documents["en"]
    paths = paths_of(document, APPS)
    assert {
        "/api/servicelist/coverage/",
        "/api/subsidies/insurers/",
        "/api/visits/compliance/",
    } <= set(paths)
    left = chinese_left(document, paths)
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
