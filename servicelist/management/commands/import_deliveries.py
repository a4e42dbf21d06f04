"""python manage.py import_deliveries FILE [--errors E.csv] [--dry-run]"""

from django.utils.functional import lazy
from django.utils.translation import gettext as _

from servicelist.importing import COLUMNS, import_deliveries
from servicelist.management.importer import ImportCommand


def _help() -> str:
    return _(
        "导入服务记录（CSV 或 XLSX；列：%(columns)s；provider 为机构代码或名称，"
        "quantity、amount 可空）。同一行再次导入不作改动；末行为 created N, updated U, rejected R。"
    ) % {"columns": ",".join(COLUMNS)}


class Command(ImportCommand):
    help = lazy(_help, str)()
    object_type = "service_deliveries"

    def run_import(self, content, filename, *, dry_run):
        return import_deliveries(content, filename, dry_run=dry_run)
