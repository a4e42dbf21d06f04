"""One idempotent step that makes a fresh database into the demonstration district.

Each app that has demonstration data provides ``<app>/demo.py`` with ``load_demo(stdout)``;
they run in dependency order. Running the command twice duplicates nothing.
"""

from importlib import import_module
from importlib.util import find_spec

from django.core.management import call_command
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.demo_accounts import DEMO_PASSWORD, ensure_demo_accounts
from config import commands

DEMO_APPS = ["residents", "facilities", "visits", "subsidies"]


class Command(commands.Command):
    help = gettext_lazy(
        "载入政策规则手册、各项政策的适用对象规则、服务清单和示范区数据，并为每个角色各建一个"
        "登录账号。"
    )

    def handle(self, *args, **options):
        call_command("load_regions", stdout=self.stdout)
        call_command("load_policies", stdout=self.stdout)
        call_command("load_eligibility", stdout=self.stdout)
        call_command("load_service_items", stdout=self.stdout)
        for app in DEMO_APPS:
            if find_spec(f"{app}.demo") is not None:
                import_module(f"{app}.demo").load_demo(stdout=self.stdout)
        accounts = ensure_demo_accounts()
        self.stdout.write(
            "\n" + _("示范登录账号（密码均为 %(password)s）：") % {"password": DEMO_PASSWORD}
        )
        for role, user in accounts:
            label = _("超级管理员") if role is None else f"{role.group}：{role.description}"
            self.stdout.write(f"  {user.username:<12} {label}")
