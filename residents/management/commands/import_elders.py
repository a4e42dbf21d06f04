"""python manage.py import_elders FILE [--errors ERRORS.csv] [--dry-run]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from residents.importing import ImportFileError, errors_csv, import_elders


class Command(BaseCommand):
    help = (
        "导入老年人名册（CSV 或 XLSX；列：id_number,name,hukou_region,residence_region,phone,"
        "categories,pension,death_date），按身份证号新增或更新。categories 各项以 | 分隔，"
        "写作 代码、代码:起始日期 或 代码:起始日期:终止日期（YYYY-MM-DD）。"
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
            plan = import_elders(path.read_bytes(), path.name, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for error in plan.errors:
            self.stderr.write(f"line {error.row}, {error.field}: {error.message}")
        if errors:
            Path(errors).write_text(errors_csv(plan.errors), encoding="utf-8")
        if dry_run:
            self.stdout.write("dry run: nothing was written")
        self.stdout.write(f"unchanged {len(plan.unchanged)}")
        self.stdout.write(plan.summary)
