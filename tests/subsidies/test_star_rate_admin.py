"""The bureau's star table in the admin obeys the same cap as the service, and only a bureau
sets it: finance reads it in the admin and the API, and the service refuses it."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts.services import assign_role
from regions.models import Region
from subsidies.grants import set_star_subsidy_rate
from subsidies.models import StarSubsidyRate
from tests.subsidies.test_admin_finance import _staff


def test_star_rate_above_xihus_cap_is_refused_in_the_admin(admin_client, rulebook):
    xihu = Region.objects.get(code="330106")
    form = {"jurisdiction": xihu.pk, "stars": 5, "effective_from": "2024-06-01", "note": ""}
    refused = admin_client.post(
        "/admin/subsidies/starsubsidyrate/add/", {**form, "amount": "300000.01"}
    )
    assert refused.status_code == 200  # the form again, with the error
    assert "300000" in refused.content.decode() and "西政办〔2023〕46号" in refused.content.decode()
    assert not StarSubsidyRate.objects.exists()

    accepted = admin_client.post(
        "/admin/subsidies/starsubsidyrate/add/", {**form, "amount": "300000"}
    )
    assert accepted.status_code == 302
    assert StarSubsidyRate.objects.get().amount == Decimal("300000.00")


def test_granted_facility_subsidies_are_listed_read_only(admin_client, rulebook):
    assert admin_client.get("/admin/subsidies/facilitysubsidy/").status_code == 200
    assert admin_client.get("/admin/subsidies/facilitysubsidy/add/").status_code == 403


# --- the table is the bureau's: finance reads it, never sets it -------------------------------


def _rate_form(region, amount="1000"):
    return {"jurisdiction": region.pk, "stars": 4, "amount": amount, "effective_from": "2024-07-01"}


@pytest.fixture
def xihu_rate(rulebook):
    return set_star_subsidy_rate(
        jurisdiction=Region.objects.get(code="330106"),
        stars=3,
        amount=Decimal("1000"),
        effective_from=datetime.date(2024, 6, 1),
    )


def test_finance_reads_the_table_but_cannot_set_it_in_the_admin(client, xihu_rate):
    client.force_login(_staff("cashier", "finance", "330106"))  # every subsidies permission
    assert client.get("/admin/subsidies/starsubsidyrate/").status_code == 200
    assert client.get("/admin/subsidies/starsubsidyrate/add/").status_code == 403
    url = f"/admin/subsidies/starsubsidyrate/{xihu_rate.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and not page.context["has_change_permission"]
    client.post(url, {**_rate_form(xihu_rate.jurisdiction, "2000"), "stars": 3})
    xihu_rate.refresh_from_db()
    assert xihu_rate.amount == Decimal("1000.00")


def test_finance_cannot_set_it_through_the_api_nor_the_service(client, xihu_rate):
    cashier = _staff("cashier", "finance", "330106")
    api = APIClient()
    api.force_authenticate(cashier)
    body = {"jurisdiction": "330106", "stars": 4, "amount": "1000", "effective_from": "2024-07-01"}
    response = api.post("/api/subsidies/star-rates/", body)
    assert response.status_code == 403 and "民政部门" in response.json()["detail"]
    with pytest.raises(ValidationError) as error:
        set_star_subsidy_rate(
            jurisdiction=xihu_rate.jurisdiction,
            stars=4,
            amount=Decimal("1000"),
            effective_from=datetime.date(2024, 7, 1),
            by=User.objects.get(pk=cashier.pk),
        )
    assert "民政部门" in error.value.message_dict["jurisdiction"][0]
    assert StarSubsidyRate.objects.count() == 1


def test_the_bureau_sets_it_in_the_admin_and_the_api(client, xihu_rate):
    bureau = _staff("civil-affairs", "bureau", "330106")
    client.force_login(bureau)
    added = client.post("/admin/subsidies/starsubsidyrate/add/", _rate_form(xihu_rate.jurisdiction))
    assert added.status_code == 302
    api = APIClient()
    api.force_authenticate(bureau)
    body = {"jurisdiction": "330106", "stars": 5, "amount": "1000", "effective_from": "2024-07-01"}
    assert api.post("/api/subsidies/star-rates/", body).status_code == 201
    assert StarSubsidyRate.objects.count() == 3


def test_a_bureau_elsewhere_does_not_set_it_through_its_finance_role_here(xihu_rate):
    user = _staff("two-hats", "finance", "330106")
    assign_role(user=user, role="bureau", region=Region.objects.get(code="330203"))
    with pytest.raises(ValidationError, match="民政部门"):
        set_star_subsidy_rate(
            jurisdiction=xihu_rate.jurisdiction,
            stars=4,
            amount=Decimal("1000"),
            effective_from=datetime.date(2024, 7, 1),
            by=User.objects.get(pk=user.pk),
        )


def test_the_demo_finance_group_has_no_write_permission_on_the_table(rulebook):
    from accounts.demo_accounts import ensure_demo_accounts

    users = {user.username: user for _, user in ensure_demo_accounts()}
    assert users["finance"].has_perm("subsidies.view_starsubsidyrate")
    assert not users["finance"].has_perm("subsidies.add_starsubsidyrate")
    assert not users["finance"].has_perm("subsidies.change_starsubsidyrate")
    assert users["bureau"].has_perm("subsidies.add_starsubsidyrate")
