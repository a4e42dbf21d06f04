"""Where a user lands: the site's root and a sign-in that asked for no page send street
workers to their phone page and everyone else to the admin; the browser's icon is served."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(zhejiang):
    def make(name, *roles):
        user = get_user_model().objects.create_user(name, password="pw-for-tests", is_staff=True)
        for role in roles:
            assign_role(user=user, role=role, region=Region.objects.get(code="330106"))
        return user

    return {
        "street": make("street", Role.STREET_WORKER),
        "finance": make("finance", Role.FINANCE),
        "both": make("both", Role.STREET_WORKER, Role.BUREAU),
    }


def sign_in(client, username, **extra):
    return client.post(
        reverse("admin:login"), {"username": username, "password": "pw-for-tests", **extra}
    )


def test_a_street_worker_signing_in_lands_on_the_phone_page(users, client):
    response = sign_in(client, "street", next="/admin/")
    assert response.status_code == 302 and response.url == reverse("visits-phone")
    assert client.get("/").url == reverse("visits-phone")


@pytest.mark.parametrize("username", ["finance", "both"])
def test_other_roles_land_on_the_admin(users, client, username):
    response = sign_in(client, username, next="/admin/")
    assert response.url == reverse("admin:index")
    assert client.get("/").url == reverse("admin:index")


def test_a_page_asked_for_is_where_the_sign_in_goes(users, client):
    response = sign_in(client, "street", next="/admin/visits/visit/")
    assert response.url == "/admin/visits/visit/"


def test_a_wrong_password_stays_on_the_sign_in_page(users, client):
    response = client.post(reverse("admin:login"), {"username": "street", "password": "no"})
    assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated


def test_the_root_sends_strangers_to_sign_in_and_the_icon_is_served(client):
    assert client.get("/").url == reverse("admin:login")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon.url.endswith(".svg")


def test_the_admin_home_links_the_phone_page_for_street_workers(users, client):
    client.force_login(users["street"])
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("visits-phone")}"' in page
