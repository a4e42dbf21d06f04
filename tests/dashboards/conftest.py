import pytest
from django.contrib.auth.models import User

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.services import assign_role
from regions.models import Region

XIHU = "330106"
CUIYUAN = "330106004"  # 翠苑街道
BEISHAN = "330106001"  # 北山街道
CUIYUAN_COMMUNITY = "330106004001"
BEISHAN_COMMUNITY = "330106001001"
HAISHU = "330203"  # 海曙区, Ningbo


@pytest.fixture
def region(zhejiang):
    return lambda code: Region.objects.get(code=code)


@pytest.fixture
def user_with(rulebook):
    """A staff user with one role over a region (or, for institution staff, a facility)."""

    def make(role, code=None, *, facility=None, username=None):
        user = User.objects.create_user(
            username=username or f"{role}-{code or facility.pk}", password="x", is_staff=True
        )
        if facility is not None:
            RoleAssignment.objects.create(user=user, role=role, facility=facility)
        else:
            assign_role(user=user, role=role, region=Region.objects.get(code=code))
        return User.objects.get(pk=user.pk)

    return make


@pytest.fixture
def bureau(user_with):
    return user_with(Role.BUREAU, XIHU, username="xihu-bureau")


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
