"""Demonstration logins, one per role, with the permissions that role needs in the admin and
the area each one covers. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import Region

DEMO_PASSWORD = "demo-pass-2024"


@dataclass(frozen=True)
class DemoRole:
    username: str
    group: str
    description: str
    apps: tuple[str, ...]
    role: str
    region_code: str | None
    read_only: bool = False
    # Permissions of those apps the role does not get (codenames).
    withheld: tuple[str, ...] = ()


ALL_APPS = ("regions", "residents", "facilities", "visits", "subsidies", "servicelist")
XIHU = "330106"
CUIYUAN_STREET = "330106004"  # 翠苑街道

ROLES = [
    DemoRole(
        "bureau",
        "民政局工作人员",
        "西湖区民政局：辖区全部数据、政策参数",
        ALL_APPS,
        Role.BUREAU,
        XIHU,
    ),
    DemoRole(
        "institution",
        "养老机构工作人员",
        "本机构的床位、入住、护理员",
        ("facilities", "residents"),
        Role.INSTITUTION_STAFF,
        None,
    ),
    DemoRole(
        "street",
        "街道社区工作人员",
        "翠苑街道的老年人与探访",
        ("residents", "visits"),
        Role.STREET_WORKER,
        CUIYUAN_STREET,
    ),
    DemoRole(
        "finance",
        "财务人员",
        "西湖区的发放批次审核与导出",
        ("subsidies",),
        Role.FINANCE,
        XIHU,
        # The star-subsidy table is the bureau's: finance reads it (subsidies.permissions).
        withheld=("add_starsubsidyrate", "change_starsubsidyrate", "delete_starsubsidyrate"),
    ),
    DemoRole("auditor", "审计人员", "西湖区，只读", ALL_APPS, Role.AUDITOR, XIHU, read_only=True),
]


@transaction.atomic
def ensure_demo_accounts() -> list[tuple[DemoRole | None, User]]:
    accounts: list[tuple[DemoRole | None, User]] = []
    admin, _ = User.objects.get_or_create(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    accounts.append((None, admin))
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.group)
        permissions = Permission.objects.filter(content_type__app_label__in=role.apps)
        if role.read_only:
            permissions = permissions.filter(codename__startswith="view_")
        permissions = permissions.exclude(codename__in=role.withheld)
        group.permissions.set(permissions)
        user, _ = User.objects.get_or_create(username=role.username)
        user.is_staff = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.set([group])
        if role.region_code:
            RoleAssignment.objects.get_or_create(
                user=user, role=role.role, region=Region.objects.get(code=role.region_code)
            )
        elif role.role == Role.INSTITUTION_STAFF:
            # The first demonstration facility, once the facilities demo has loaded one.
            from facilities.models import Facility

            facility = Facility.objects.order_by("pk").first()
            if facility is not None:
                RoleAssignment.objects.get_or_create(user=user, role=role.role, facility=facility)
        accounts.append((role, user))
    return accounts
