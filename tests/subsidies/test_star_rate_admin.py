"""The bureau's star table in the admin obeys the same cap as the service."""

from decimal import Decimal

from regions.models import Region
from subsidies.models import StarSubsidyRate


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
