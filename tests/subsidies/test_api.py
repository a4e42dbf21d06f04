"""The subsidies API: scoped runs, batches, lines and facility subsidies; finance approves;
exports are recorded; bad input is a 400 naming the field."""

import datetime
import hashlib
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import Region
from subsidies.models import AllowanceRun, BatchExport, FacilitySubsidy
from subsidies.run.planning import request_allowance_run
from tests.factories import FacilityFactory

pytestmark = pytest.mark.django_db
MAY_2024 = datetime.date(2024, 5, 1)


@pytest.fixture
def user_for(django_user_model, rulebook):
    def make(role, code="330106", *, approve=False):
        user = django_user_model.objects.create_user(username=f"{role}{code}", password="x")
        RoleAssignment.objects.create(user=user, role=role, region=Region.objects.get(code=code))
        if approve:
            user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
        client = APIClient()
        client.force_authenticate(django_user_model.objects.get(pk=user.pk))
        return client

    return make


@pytest.fixture
def xihu_run(make_elder):
    elder = make_elder(datetime.date(1934, 3, 1))  # 90 in May 2024
    run = request_allowance_run(
        region=Region.objects.get(code="330106"), period=MAY_2024, sync=True
    )
    return run, elder


def test_finance_sees_its_regions_runs_batches_and_lines_with_masked_ids(user_for, xihu_run):
    run, elder = xihu_run
    request_allowance_run(region=Region.objects.get(code="330203"), period=MAY_2024, sync=True)
    client = user_for(Role.FINANCE)
    runs = client.get("/api/subsidies/runs/").json()
    assert [r["id"] for r in runs["results"]] == [run.pk]
    detail = client.get(f"/api/subsidies/runs/{run.pk}/").json()
    assert detail["progress"] == 1.0 and detail["status"] == "done"
    assert "skipped_schemes" in detail["report"]
    batches = client.get("/api/subsidies/batches/").json()["results"]
    assert [b["id"] for b in batches] == [run.batch_id]
    batch = client.get(f"/api/subsidies/batches/{run.batch_id}/").json()
    assert batch["line_count"] == len(batch["totals"]) >= 1
    lines = client.get("/api/subsidies/lines/", {"batch": run.batch_id}).json()["results"]
    line = lines[0]
    assert line["payee_id_number"] == elder.id_number[:6] + "********" + elder.id_number[14:]
    assert elder.id_number not in str(lines)
    assert line["inputs"]["citation"] and line["inputs"]["age"] == 90
    assert user_for(Role.FINANCE, "330203").get(f"/api/subsidies/runs/{run.pk}/").status_code == 404


def test_post_queues_a_run_for_a_region_in_scope(user_for, django_capture_on_commit_callbacks):
    client = user_for(Role.BUREAU)
    with (
        mock.patch("subsidies.tasks.prepare_allowance_run.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("/api/subsidies/runs/", {"region": "330106", "period": "2024-05"})
    assert response.status_code == 202, response.content
    run = AllowanceRun.objects.get(pk=response.json()["id"])
    delay.assert_called_once_with(run.pk)
    assert run.period == MAY_2024 and run.status == "pending"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"region": "330106", "period": "2024-13"}, "period"),
        ({"region": "999999", "period": "2024-05"}, "region"),
        ({"region": "330203", "period": "2024-05"}, "region"),  # outside Xihu
        ({"period": "2024-05"}, "region"),
    ],
)
def test_bad_run_requests_are_400_naming_the_field(user_for, payload, field):
    response = user_for(Role.BUREAU).post("/api/subsidies/runs/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not AllowanceRun.objects.exists()


def test_only_finance_approves_and_exports_are_recorded(user_for, xihu_run):
    run, _ = xihu_run
    url = f"/api/subsidies/batches/{run.batch_id}/"
    assert user_for(Role.BUREAU).post(url + "approve/").status_code == 403
    # The same rule as the admin's: a bureau given the permission still does not pay.
    bureau_with_permission = user_for(Role.BUREAU, "330100", approve=True)  # Hangzhou
    assert bureau_with_permission.post(url + "approve/").status_code == 403
    assert bureau_with_permission.get(url + "export/").status_code == 403
    finance = user_for(Role.FINANCE, approve=True)
    assert finance.get(url + "export/").status_code == 400  # draft: not exported
    approved = finance.post(url + "approve/")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert finance.post(url + "approve/").status_code == 400
    response = finance.get(url + "export/", {"file_format": "csv"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"reference,id_number,name,scheme,period,amount")
    record = BatchExport.objects.get()
    assert record.sha256 == hashlib.sha256(body).hexdigest() == response["X-Checksum-SHA256"]
    assert record.exported_by.username.startswith("finance")
    xlsx = finance.get(url + "export/", {"file_format": "xlsx"})
    assert xlsx.status_code == 200 and BatchExport.objects.count() == 2
    bad = finance.get(url + "export/", {"file_format": "pdf"})
    assert bad.status_code == 400 and "file_format" in bad.json()


def test_facility_subsidies_are_granted_within_the_cap_and_refused_above_it(user_for):
    institution = FacilityFactory(is_for_profit=True)
    client = user_for(Role.BUREAU)
    payload = {"facility": institution.pk, "kind": "liability_insurance", "year": 2024}
    refused = client.post("/api/subsidies/facility-subsidies/", payload)
    assert refused.status_code == 400 and "premium" in refused.json()
    above = client.post(
        "/api/subsidies/facility-subsidies/", {**payload, "premium": "600", "amount": "200.01"}
    )
    assert above.status_code == 400
    assert "浙政办发〔2022〕71号 §9" in above.json()["amount"][0]
    granted = client.post("/api/subsidies/facility-subsidies/", {**payload, "premium": "600"})
    assert granted.status_code == 201, granted.content
    assert granted.json()["amount"] == "200.00"  # 600 × (1/3 + 1/3) × 0.5
    listed = user_for(Role.FINANCE).get("/api/subsidies/facility-subsidies/").json()
    assert [r["id"] for r in listed["results"]] == [FacilitySubsidy.objects.get().pk]
    assert (
        user_for(Role.FINANCE, "330203").get("/api/subsidies/facility-subsidies/").json()["count"]
        == 0
    )
    outside = user_for(Role.BUREAU, "330203").post(
        "/api/subsidies/facility-subsidies/", {**payload, "premium": "600", "year": 2023}
    )
    assert outside.status_code == 400 and "facility" in outside.json()


def test_star_rates_are_entered_by_the_bureau_within_the_cap(user_for):
    client = user_for(Role.BUREAU)
    payload = {"jurisdiction": "330106", "stars": 4, "effective_from": "2024-02-01"}
    above = client.post("/api/subsidies/star-rates/", {**payload, "amount": "300000.01"})
    assert above.status_code == 400 and "西政办〔2023〕46号 §10" in above.json()["amount"][0]
    ok = client.post("/api/subsidies/star-rates/", {**payload, "amount": "250000"})
    assert ok.status_code == 201 and ok.json()["amount"] == "250000.00"
    assert client.post("/api/subsidies/star-rates/", {**payload, "stars": 6}).status_code == 400
    assert (
        Decimal(client.get("/api/subsidies/star-rates/").json()["results"][0]["amount"]) == 250000
    )


def test_the_api_shows_a_run_as_it_is_not_as_last_recorded(user_for, make_elder):
    """A run whose prepare message was lost still records ``pending``; the API says it is
    stalled and that the sweep queues it again, as the admin does."""
    from django.utils import timezone

    make_elder(datetime.date(1934, 3, 1))
    run = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"),
        period=MAY_2024,
        queued_at=timezone.now() - datetime.timedelta(minutes=30),
    )
    fresh = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"), period=datetime.date(2024, 6, 1)
    )
    client = user_for(Role.FINANCE)
    listed = {r["id"]: r for r in client.get("/api/subsidies/runs/").json()["results"]}
    assert listed[run.pk]["status"] == "pending"
    assert listed[run.pk]["health"] == "stalled"
    assert "重新排队" in listed[run.pk]["health_detail"]
    assert listed[fresh.pk]["health"] == "queued" and listed[fresh.pk]["health_detail"] == ""
    detail = client.get(f"/api/subsidies/runs/{run.pk}/").json()
    assert detail["health"] == "stalled"
