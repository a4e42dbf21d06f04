"""python manage.py import_deliveries FILE [--errors E.csv] [--dry-run]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.choices import AuditAction
from accounts.services import record_audit
from residents.importing import ImportFileError
from servicelist.importing import COLUMNS, errors_csv, import_deliveries


class Command(BaseCommand):
    help = (
        f"导入服务记录（CSV 或 XLSX；列：{','.join(COLUMNS)}；provider 为机构代码或名称，"
        "quantity、amount 可空）。同一行再次导入不作改动；末行为 created N, updated U, rejected R。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV or XLSX file")
        parser.add_argument(
            "--errors", help="write the rejected rows to this CSV (row,field,message)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")

    def handle(self, *args, file, errors=None, dry_run=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = import_deliveries(path.read_bytes(), path.name, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for error in result.errors:
            self.stderr.write(f"line {error.row}, {error.field}: {error.message}")
        if errors:
            Path(errors).write_text(errors_csv(result.errors), encoding="utf-8")
        if not dry_run:
            record_audit(
                user=None,
                action=AuditAction.IMPORT,
                object_type="service_deliveries",
                reason="import_deliveries command",
                details={"file": path.name, "summary": result.summary},
            )
        else:
            self.stdout.write("dry run: nothing was written")
        self.stdout.write(f"unchanged {result.unchanged}")
        self.stdout.write(result.summary)
