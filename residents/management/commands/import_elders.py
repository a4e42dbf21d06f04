"""python manage.py import_elders FILE [--errors ERRORS.csv] [--dry-run]"""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from residents.importing import ImportFileError, errors_csv, import_elders


class Command(commands.Command):
    help = gettext_lazy(
        "导入老年人名册（CSV 或 XLSX；列：id_number,name,hukou_region,residence_region,phone,"
        "categories,pension,death_date），按身份证号新增或更新。categories 各项以 | 分隔，"
        "写作 代码、代码:起始日期 或 代码:起始日期:终止日期（YYYY-MM-DD）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=gettext_lazy("CSV 或 XLSX 文件"))
        parser.add_argument(
            "--errors",
            help=gettext_lazy("将被拒绝的行写入此 CSV 文件（列：row,field,message）"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("只检查，不写入任何数据")
        )

    def handle(self, *args, file, errors=None, dry_run=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("%(path)s：没有这个文件") % {"path": file})
        try:
            plan = import_elders(path.read_bytes(), path.name, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for error in plan.errors:
            self.stderr.write(
                _("第 %(row)s 行，%(field)s：%(message)s")
                % {"row": error.row, "field": error.field, "message": error.message}
            )
        if errors:
            Path(errors).write_text(errors_csv(plan.errors), encoding="utf-8")
        if dry_run:
            self.stdout.write(_("试运行：未写入任何数据"))
        # The counts are the lines scripts read: not translated.
        self.stdout.write(f"unchanged {len(plan.unchanged)}")
        self.stdout.write(plan.summary)
