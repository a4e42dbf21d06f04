"""python manage.py import_deliveries FILE [--errors E.csv] [--dry-run]"""

from servicelist.importing import COLUMNS, import_deliveries
from servicelist.management.importer import ImportCommand


class Command(ImportCommand):
    help = (
        f"导入服务记录（CSV 或 XLSX；列：{','.join(COLUMNS)}；provider 为机构代码或名称，"
        "quantity、amount 可空）。同一行再次导入不作改动；末行为 created N, updated U, rejected R。"
    )
    object_type = "service_deliveries"

    def run_import(self, content, filename, *, dry_run):
        return import_deliveries(content, filename, dry_run=dry_run)
