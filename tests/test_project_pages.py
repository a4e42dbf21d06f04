"""The pages a newcomer opens first."""

import pytest


@pytest.mark.django_db
def test_health_needs_no_login(client):
    assert client.get("/health/").json() == {"status": "ok"}


@pytest.mark.django_db
def test_schema_and_docs_are_public_and_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar" in docs.content  # assets from the project, not a CDN


@pytest.mark.django_db
def test_the_api_requires_authentication(client):
    assert client.get("/api/regions/regions/").status_code in (401, 403)


def test_policy_resolve_endpoint_answers_with_its_source(admin_client, rulebook):
    response = admin_client.get(
        "/api/regions/policy/resolve/",
        {"key": "high_age_allowance_90_99", "region": "330106004", "date": "2024-03-01"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == "100.0000" and body["source_region"] == "330106"
    assert body["is_set"] is True


def test_policy_resolve_names_the_bad_field(admin_client, rulebook):
    response = admin_client.get(
        "/api/regions/policy/resolve/", {"key": "nope", "region": "330106", "date": "2024-13-01"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"key", "date"}


def test_admin_pages_for_the_rulebook_open(admin_client, rulebook):
    assert admin_client.get("/admin/regions/policyvalue/").status_code == 200
    assert admin_client.get("/admin/regions/region/?q=西湖").status_code == 200


def test_policy_resolve_refuses_a_region_code_with_a_nul_character(admin_client, rulebook):
    response = admin_client.get(
        "/api/regions/policy/resolve/",
        {"key": "high_age_allowance_90_99", "region": "3301\x0006", "date": "2024-03-01"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"region"}
