"""The subsidies API returns what its OpenAPI schema says: ``period`` is a ``YYYY-MM`` string
in runs, batches and lines (it was declared a date), on real data."""

import datetime
import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from regions.models import Region
from subsidies.run.planning import request_allowance_run
from tests.openapi_conformance import assert_matches_schema

MAY = datetime.date(2024, 5, 1)


@pytest.fixture
def api(rulebook, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("root", "", "x"))
    return client


@pytest.fixture
def run(make_elder):
    make_elder(datetime.date(1934, 3, 1))
    return request_allowance_run(region=Region.objects.get(code="330106"), period=MAY, sync=True)


def test_period_is_declared_a_yyyy_mm_string_everywhere():
    document = SchemaGenerator().get_schema(request=None, public=True)
    schemas = json.loads(OpenApiJsonRenderer().render(document))["components"]["schemas"]
    for name in ("Run", "RunInput", "Batch", "BatchDetail", "PaymentLine"):
        period = schemas[name]["properties"]["period"]
        assert period["type"] == "string" and "format" not in period, name
        assert period["pattern"] == r"^\d{4}-(0[1-9]|1[0-2])$", name


@pytest.mark.parametrize(
    "path",
    [
        "/api/subsidies/runs/",
        "/api/subsidies/runs/{id}/",
        "/api/subsidies/batches/",
        "/api/subsidies/batches/{id}/",
        "/api/subsidies/lines/",
        "/api/subsidies/lines/{id}/",
    ],
)
def test_runs_batches_and_lines_match_the_schema(api, run, path):
    pk = {"runs": run.pk, "batches": run.batch_id, "lines": run.batch.lines.first().pk}
    url = path.replace("{id}", str(pk[path.split("/")[3]]))
    response = api.get(url)
    assert response.status_code == 200
    body = response.json()
    rows = body.get("results", [body])
    assert rows and all(row["period"] == "2024-05" for row in rows)
    assert_matches_schema("get", path, response)
