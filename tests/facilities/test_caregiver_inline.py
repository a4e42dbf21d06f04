"""Two open employments at one facility, typed in one save of the caregiver page, are refused
on the form (naming the rows) instead of reaching the database's constraint."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from facilities.models import Caregiver, Employment
from regions.models import Region
from tests.factories import FacilityFactory


@pytest.fixture
def admin_client(client, zhejiang):
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def formset(prefix, rows):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_two_open_employments_at_one_facility_are_refused_on_the_form(admin_client):
    facility = FacilityFactory(region=Region.objects.get(code="330106004"))
    data = {"name": "王护理", "id_number": "330106198001010013", "phone": ""}
    data |= formset("certificates", [])
    data |= formset(
        "employments",
        [
            {"facility": facility.pk, "start_date": "2025-01-01"},
            {"facility": facility.pk, "start_date": "2025-02-01"},
        ],
    )
    response = admin_client.post(reverse("admin:facilities_caregiver_add"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "同一机构只能有一条未结束的任职" in page and "第 1 行与第 2 行" in page
    assert not Caregiver.objects.exists() and not Employment.objects.exists()
