"""Every URL of the project requires authentication, except the schema, the API docs, token
login and the health check (issue 7). Walked over every URL pattern, so a new one is covered."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

PUBLIC = {"/api/schema/", "/api/docs/", "/api/auth/token/", "/health/", "/admin/login/"}
# Signing out without being signed in shows nothing; it only redirects. The browser's icon is a
# redirect to a static file, which the sign-in page itself shows.
HARMLESS = {"/admin/logout/", "/favicon.ico"}
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*(?:\([^()]*\)[^()]*)*)\)")
_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _sample(body: str) -> str:
    """A value for a regex group: its first alternative if it lists them, else 1."""
    alternatives = body.split("|")
    return alternatives[0] if len(alternatives) > 1 and alternatives[0].isidentifier() else "1"


def _concrete(pattern) -> str:
    text = str(pattern.pattern)
    if hasattr(pattern.pattern, "_route"):
        return _CONVERTER.sub("1", text)
    text = _GROUP.sub(lambda m: _sample(m.group("body")), text)
    return text.lstrip("^").rstrip("$").replace("\\.", ".").replace("\\Z", "")


def all_urls(resolver=None, prefix="/"):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if "format" in str(pattern.pattern):
            continue  # DRF's ".json" twins of the same views
        if isinstance(pattern, URLResolver):
            yield from all_urls(pattern, prefix + _concrete(pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + _concrete(pattern), pattern.callback


def test_the_walk_finds_every_app_and_the_admin():
    urls = {url for url, _ in all_urls()}
    assert "/api/residents/elders/" in urls and "/api/regions/regions/" in urls
    assert any(url.startswith("/admin/residents/elder/") for url in urls)


@pytest.mark.django_db
def test_every_url_but_the_public_ones_requires_authentication(client):
    problems = []
    for url, callback in all_urls():
        try:
            match = resolve(url)
        except Exception:  # a sample that does not resolve is reported, not skipped
            problems.append(f"{url}: could not build a URL for this pattern")
            continue
        if match.func is not callback and url not in PUBLIC:
            continue  # shadowed by an earlier pattern that is checked on its own
        if url in PUBLIC | HARMLESS:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            refused = response.status_code in (401, 403) or (
                response.status_code == 302 and "/admin/login/" in response["Location"]
            )
            if not refused:
                problems.append(f"{method.upper()} {url}: {response.status_code}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
@pytest.mark.parametrize("url", sorted(PUBLIC - {"/admin/login/"}))
def test_the_public_urls_answer_without_a_login(client, url):
    response = client.get(url) if url != "/api/auth/token/" else client.post(url, {})
    assert response.status_code in (200, 400)
