"""Demonstration logins, one per role, with the permissions that role needs in the admin.

Scoping (which facility or area each login sees) is attached by the roles module; this only
creates the accounts and their groups, idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

DEMO_PASSWORD = "demo-pass-2024"


@dataclass(frozen=True)
class DemoRole:
    username: str
    group: str
    description: str
    apps: tuple[str, ...]
    read_only: bool = False


ROLES = [
    DemoRole(
        "bureau",
        "民政局工作人员",
        "西湖区民政局：辖区全部数据、政策参数",
        ("regions", "residents", "facilities", "visits", "subsidies"),
    ),
    DemoRole(
        "institution", "养老机构工作人员", "本机构的床位、入住、护理员", ("facilities", "residents")
    ),
    DemoRole("street", "街道社区工作人员", "本街道的老年人与探访", ("residents", "visits")),
    DemoRole("finance", "财务人员", "本区的发放批次审核与导出", ("subsidies",)),
    DemoRole(
        "auditor",
        "审计人员",
        "只读",
        ("regions", "residents", "facilities", "visits", "subsidies"),
        read_only=True,
    ),
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
        group.permissions.set(permissions)
        user, _ = User.objects.get_or_create(username=role.username)
        user.is_staff = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.set([group])
        accounts.append((role, user))
    return accounts
