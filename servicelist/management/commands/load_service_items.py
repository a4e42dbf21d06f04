from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from servicelist.catalogue import ITEMS_FILE, adopt_items, load_items

# Who the audit trail names for the rows this command writes.
COMMAND = "load_service_items"


class Command(commands.Command):
    help = gettext_lazy(
        "向数据库补入基本养老服务清单文件（servicelist/data/service_items.toml）中数据库缺少的"
        "项目。从不覆盖：首次载入后以数据库为准，文件与数据库不一致的每个项目都会列出，并注明"
        "由谁、何时修改。采用文件中的项目版本须明确指定：--adopt CODE（如 330200:21）。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", default=str(ITEMS_FILE), help=gettext_lazy("服务清单文件（TOML）")
        )
        parser.add_argument(
            "--adopt",
            metavar="CODE",
            help=gettext_lazy("采用文件中该项目的各版本（如 330200:21）"),
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(_("--file %(path)s：没有这个文件") % {"path": path})
        try:
            if options["adopt"]:
                report = adopt_items(options["adopt"], path, command=COMMAND)
                # The summary line scripts read: not translated.
                self.stdout.write(
                    f"adopted from the file: {report.adopted} version(s) of {options['adopt']}, "
                    f"unchanged {report.unchanged}"
                )
                return
            report = load_items(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        # The differences are tab-separated columns and the last line is the summary: scripts
        # read both, so neither is translated.
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"service items: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's items kept)"
        )
