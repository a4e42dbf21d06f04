"""Every operation of the API is described for the people who build on it, in both
languages: generated in Chinese, its description is Chinese; in English, it carries no
Chinese. Operations are found by the schema generator itself, so a new endpoint is checked
without editing this file."""

from __future__ import annotations

import pytest

from tests.openapi_language import CJK, schema

METHODS = {"get", "post", "put", "patch", "delete"}


def operations(language: str) -> dict[str, str]:
    document = schema(language)
    return {
        f"{method.upper()} {path}": str(operation.get("description", ""))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.fixture(scope="module")
def described():
    return {language: operations(language) for language in ("zh-hans", "en")}


def test_the_api_has_operations(described):
    assert len(described["zh-hans"]) > 50
    assert described["zh-hans"].keys() == described["en"].keys()


def test_every_operation_is_described_in_chinese(described):
    missing = sorted(op for op, text in described["zh-hans"].items() if not CJK.search(text))
    assert not missing, "no Chinese description:\n" + "\n".join(missing)


def test_every_operation_is_described_in_english(described):
    left = sorted(
        op for op, text in described["en"].items() if not text.strip() or CJK.search(text)
    )
    assert not left, "no English description:\n" + "\n".join(left)


def test_no_developer_docstring_is_published(described):
    """A view's docstring is for developers: it is never the published description."""
    leaked = sorted(op for op, text in described["en"].items() if "For DRF views" in text)
    assert not leaked
