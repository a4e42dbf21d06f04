"""The admin's history pages are doors too: an object outside the user's scope has no history
page and no historical version to read, and no version is ever restored from the history (a
restore would write without going through the services and their checks)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import Region
from tests.factories import ElderFactory


@pytest.fixture
def street_worker(zhejiang):
    user = User.objects.create_user(username="cuiyuan", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="residents"))
    RoleAssignment.objects.create(
        user=user, role=Role.STREET_WORKER, region=Region.objects.get(code="330106004")
    )
    return user


@pytest.fixture
def elders(zhejiang):
    inside = Region.objects.get(code="330106004001")
    outside = Region.objects.get(code="330203")
    return (
        ElderFactory(name="翠苑老人", hukou_region=inside, residence_region=inside),
        ElderFactory(name="宁波老人", hukou_region=outside, residence_region=outside),
    )


def test_history_of_an_object_outside_the_scope_is_not_found(client, street_worker, elders):
    inside, outside = elders
    client.force_login(street_worker)
    assert client.get(reverse("admin:residents_elder_history", args=[inside.pk])).status_code == 200
    response = client.get(reverse("admin:residents_elder_history", args=[outside.pk]))
    assert response.status_code == 404
    assert "宁波老人" not in response.content.decode()
    version = outside.history.first().history_id
    url = reverse("admin:residents_elder_simple_history", args=[outside.pk, version])
    response = client.get(url)
    assert response.status_code == 404
    assert "宁波老人" not in response.content.decode()


def test_no_version_is_restored_from_the_history(client, street_worker, elders):
    inside, _ = elders
    client.force_login(street_worker)
    version = inside.history.first().history_id
    url = reverse("admin:residents_elder_simple_history", args=[inside.pk, version])
    response = client.post(url, {"name": "改名"})
    assert response.status_code in (403, 405)
    inside.refresh_from_db()
    assert inside.name == "翠苑老人"


def test_every_admin_with_history_pages_is_scoped():
    """Discovered from the admin site: a new admin with history pages inherits the checks."""
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    from accounts.permissions import ScopedAdminMixin

    with_history = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if isinstance(model_admin, SimpleHistoryAdmin)
    ]
    assert with_history
    unscoped = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if isinstance(model_admin, SimpleHistoryAdmin)
        and not isinstance(model_admin, ScopedAdminMixin)
    ]
    assert unscoped == []
