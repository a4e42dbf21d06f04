"""One idempotent step that makes a fresh database into the demonstration district.

Each app that has demonstration data provides ``<app>/demo.py`` with ``load_demo(stdout)``;
they run in dependency order. Running the command twice duplicates nothing.
"""

from importlib import import_module
from importlib.util import find_spec

from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.demo_accounts import DEMO_PASSWORD, ensure_demo_accounts

DEMO_APPS = ["residents", "facilities", "visits", "subsidies"]


class Command(BaseCommand):
    help = (
        "Load the rulebook, the rules of who each policy is for, the service lists and the "
        "demonstration district, and create one login per role."
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
        self.stdout.write(f"\nDemonstration logins (password for all: {DEMO_PASSWORD}):")
        for role, user in accounts:
            label = (
                "超级管理员 / superuser" if role is None else f"{role.group}：{role.description}"
            )
            self.stdout.write(f"  {user.username:<12} {label}")
