"""One scoping mechanism: a role over a region sees that region and everything below it."""

import datetime

import pytest
from django.contrib.auth.models import User

from accounts.choices import Role
from accounts.scoping import scope_of, scoped
from accounts.services import assign_role
from regions.models import PolicyValue, Region
from residents.id_numbers import with_check_character
from residents.models import Elder


def make_elder(name, hukou_code, residence_code=None, serial="001"):
    number = with_check_character(f"33010619400101{serial}")
    facts = {"sex": "M", "birth_date": datetime.date(1940, 1, 1)}
    return Elder.objects.create(
        id_number=number,
        name=name,
        hukou_region=Region.objects.get(code=hukou_code),
        residence_region=Region.objects.get(code=residence_code) if residence_code else None,
        **facts,
    )


@pytest.fixture
def elders(zhejiang):
    return {
        "cuiyuan": make_elder("翠苑老人", "330106004001", "330106004001", "001"),
        "beishan": make_elder("北山老人", "330106001001", "330106001001", "003"),
        "ningbo": make_elder("宁波老人", "330203", None, "005"),
        # registered in Beishan, living in Cuiyuan: both offices need this elder
        "moved": make_elder("迁居老人", "330106001002", "330106004002", "007"),
    }


def user_with(role, region_code, username="u"):
    user = User.objects.create_user(username=username, password="x", is_staff=True)
    assign_role(user=user, role=role, region=Region.objects.get(code=region_code))
    return User.objects.get(pk=user.pk)


def names(queryset):
    return sorted(queryset.values_list("name", flat=True))


def test_a_district_bureau_sees_every_elder_of_the_district(elders):
    bureau = user_with(Role.BUREAU, "330106")
    assert names(scoped(Elder.objects.all(), bureau)) == ["北山老人", "翠苑老人", "迁居老人"]


def test_a_street_worker_sees_elders_registered_or_living_in_the_street(elders):
    worker = user_with(Role.STREET_WORKER, "330106004")
    assert names(scoped(Elder.objects.all(), worker)) == ["翠苑老人", "迁居老人"]
    assert scoped(Elder.objects.all(), worker).count() == 2  # counts do not double


def test_a_user_without_a_role_sees_nothing(elders):
    nobody = User.objects.create_user(username="nobody", password="x", is_staff=True)
    assert not scoped(Elder.objects.all(), nobody).exists()


def test_a_superuser_sees_everything(elders):
    root = User.objects.create_superuser(username="root", password="x")
    assert scoped(Elder.objects.all(), root).count() == 4


def test_reference_data_is_readable_by_everyone_signed_in(elders, rulebook):
    worker = user_with(Role.STREET_WORKER, "330106004")
    assert scoped(PolicyValue.objects.all(), worker).count() == PolicyValue.objects.count()


def test_auditors_are_read_only(zhejiang):
    auditor = user_with(Role.AUDITOR, "330106")
    bureau = user_with(Role.BUREAU, "330106", username="b")
    assert scope_of(auditor).read_only and not scope_of(bureau).read_only


def test_commands_and_exports_refuse_a_region_outside_the_users_areas(zhejiang):
    from accounts.scoping import OutOfScope, require_region_in_scope

    finance = user_with(Role.FINANCE, "330106")
    require_region_in_scope(finance, Region.objects.get(code="330106004"), "subsidies")
    with pytest.raises(OutOfScope, match="330203"):
        require_region_in_scope(finance, Region.objects.get(code="330203"), "subsidies")
    # A finance officer's district does not open the visits of that district.
    with pytest.raises(OutOfScope):
        require_region_in_scope(finance, Region.objects.get(code="330106"), "visits")
