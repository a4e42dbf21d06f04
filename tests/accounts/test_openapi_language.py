"""The API's documentation speaks the language it is asked in: generated in English, the
endpoints of accounts, facilities, regions and residents (their operations, parameters,
responses and the schemas these use) and the project's own parts (title, description,
pagination) carry no Chinese; generated in Chinese, they are Chinese."""

from __future__ import annotations

import pytest

from tests.openapi_language import CJK, chinese_left, paths_of, schema

APPS = ("accounts.", "facilities.", "regions.", "residents.")


@pytest.fixture(scope="module")
def documents():
    return {language: schema(language) for language in ("en", "zh-hans")}


def test_the_documentation_of_these_apps_has_no_chinese_in_english(documents):
    document = documents["en"]
    paths = paths_of(document, APPS)
    assert {"/api/facilities/staffing/", "/api/residents/elders/{id}/"} <= set(paths)
    left = chinese_left(document, paths, info=True)
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
