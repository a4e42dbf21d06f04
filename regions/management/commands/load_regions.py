from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from regions.divisions import DATA_DIR, file_divisions, zhejiang_divisions
from regions.services import upsert_divisions


class Command(commands.Command):
    help = gettext_lazy(
        "载入浙江省行政区划树（GB/T 2260，已撤销的代码保留为停用）以及示范区的街道和社区。"
        "可重复运行，结果不变。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            help=gettext_lazy(
                "补充的街道、社区或网格 CSV 文件（列：code,name,level,parent_code），可多次给出"
            ),
        )

    def handle(self, *args, **options):
        batches = [
            zhejiang_divisions(),
            file_divisions(DATA_DIR / "xihu_divisions.csv", "demonstration district list"),
        ]
        for extra in options["file"]:
            path = Path(extra)
            if not path.exists():
                raise CommandError(_("--file %(path)s：没有这个文件") % {"path": extra})
            batches.append(file_divisions(path, path.name))
        created = updated = 0
        try:
            for batch in batches:
                c, u = upsert_divisions(batch)
                created, updated = created + c, updated + u
        except ValidationError as error:
            raise CommandError("; ".join(error.messages))
        # The summary line scripts read: not translated.
        self.stdout.write(f"regions: created {created}, updated {updated}")
