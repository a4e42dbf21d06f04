import sys

from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts.spreadsheets import csv_text
from config import commands
from regions.catalog import get_key
from regions.selectors import policy_gaps


class Command(commands.Command):
    help = gettext_lazy("列出所有“未设定”的政策参数值，以及哪些功能需要它们。")

    def add_arguments(self, parser):
        parser.add_argument(
            "--format",
            choices=["table", "csv"],
            default="table",
            help=gettext_lazy("输出格式：table（表格）或 csv"),
        )

    def handle(self, *args, **options):
        rows = [
            {
                "region": gap.region.code,
                "region_name": gap.region.name,
                "key": gap.key,
                "label": get_key(gap.key).label,
                "effective_from": gap.effective_from.isoformat(),
                "citation": gap.citation,
                "needed_by": get_key(gap.key).used_by,
            }
            for gap in policy_gaps()
        ]
        if options["format"] == "csv":
            # The file's columns and values are what scripts read: not translated.
            columns = list(rows[0]) if rows else ["key"]
            self.stdout.write(
                csv_text([columns, *([row[c] for c in columns] for row in rows)]), ending=""
            )
            return
        english = (get_language() or "").startswith("en")
        for row in rows:
            label = get_key(row["key"]).label_en if english else row["label"]
            self.stdout.write(
                _(
                    "%(region)s %(region_name)s  %(key)s（%(label)s）  %(effective_from)s 起"
                    "  [%(citation)s]  用于：%(needed_by)s"
                )
                % {**row, "label": label}
            )
        # The summary line scripts read: not translated.
        self.stdout.write(f"{len(rows)} value(s) not set")
        sys.stdout.flush()
