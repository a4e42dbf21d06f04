"""Lists never answer 500 to an absurd page: the API serves at most 500 rows a page whatever
``?limit=`` says, an offset past the end is an empty page, and the admin's large-table
paginator refuses a page number its OFFSET could not hold."""

import pytest
from django.contrib.auth.models import User
from django.core.paginator import EmptyPage
from drf_spectacular.generators import EndpointEnumerator

from config.pagination import MAX_LIMIT
from residents.models import Elder
from residents.paginators import LargeTablePaginator
from tests.factories import ElderFactory

HUGE = "9223372036854775809"
ABSURD = [
    {"limit": HUGE},
    {"offset": HUGE},
    {"limit": HUGE, "offset": HUGE},
    {"limit": "100000"},
    {"limit": "-1", "offset": "-5"},
    {"limit": "x", "offset": "1e9"},
    {"limit": "9" * 5000},
]


def list_endpoints():
    return [
        path
        for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints()
        if method == "GET" and "{" not in path and "schema" not in path and "docs" not in path
    ]


def _rows(body) -> list:
    return body.get("results", []) if isinstance(body, dict) else body


@pytest.fixture
def root(client, zhejiang):
    ElderFactory.create_batch(3)
    client.force_login(User.objects.create_superuser(username="root", password="x"))
    return client


@pytest.mark.parametrize("params", ABSURD)
def test_no_list_answers_500_to_an_absurd_limit_or_offset(root, params):
    failures = []
    for path in list_endpoints():
        response = root.get(path, params)
        if response.status_code >= 500:
            failures.append(f"{path}: {response.status_code}")
        elif response.status_code == 200 and len(_rows(response.json())) > MAX_LIMIT:
            failures.append(f"{path}: {len(_rows(response.json()))} rows")
    assert not failures, failures


def test_a_limit_above_the_ceiling_serves_the_ceiling_and_links_on(root):
    ElderFactory.create_batch(MAX_LIMIT)
    body = root.get("/api/residents/elders/", {"limit": "100000"}).json()
    assert len(body["results"]) == MAX_LIMIT and f"limit={MAX_LIMIT}" in body["next"]
    assert body["count"] == MAX_LIMIT + 3
    assert len(root.get("/api/residents/elders/").json()["results"]) == 50


def test_an_offset_past_the_end_is_an_empty_page(root):
    body = root.get("/api/residents/elders/", {"offset": HUGE}).json()
    assert body["results"] == [] and body["count"] == 3 and body["next"] is None


def test_the_schema_states_the_ceiling(root):
    schema = root.get("/api/schema/", {"format": "json"}).json()
    limit = next(
        p
        for p in schema["paths"]["/api/residents/elders/"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert f"最多 {MAX_LIMIT}" in limit["description"]


def test_an_estimated_list_refuses_a_page_beyond_what_an_offset_can_hold(root, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "_estimated_count", lambda self: 2_000_000)
    paginator = LargeTablePaginator(Elder.objects.order_by("pk"), 100, estimate=True)
    assert paginator.estimated is False and paginator.count == 2_000_000 and paginator.estimated
    assert list(paginator.page(30_000).object_list) == []  # past the estimate: empty, not an error
    with pytest.raises(EmptyPage):
        paginator.page(int(HUGE))
    with pytest.raises(EmptyPage):
        paginator.page(0)


@pytest.mark.parametrize("page", [HUGE, "-1", "x"])
def test_the_elder_changelist_answers_an_absurd_page_without_a_500(root, page):
    response = root.get("/admin/residents/elder/", {"p": page})
    assert response.status_code in (200, 302)
