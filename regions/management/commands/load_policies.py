from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from regions.rulebook import RULEBOOK, adopt_from_file, load_rulebook

# Who the audit trail names for the rows this command writes.
COMMAND = "load_policies"


class Command(commands.Command):
    help = gettext_lazy(
        "向数据库补入规则手册文件（regions/data/rulebook.toml）中数据库缺少的政策参数值。"
        "从不覆盖：首次载入后以数据库为准，文件与数据库不一致的每一行都会列出，并注明由谁、"
        "何时修改。采用文件中的数值须明确指定：--adopt KEY --region CODE。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", default=str(RULEBOOK), help=gettext_lazy("规则手册文件（TOML）")
        )
        parser.add_argument("--adopt", metavar="KEY", help=gettext_lazy("采用文件中该参数的各行"))
        parser.add_argument(
            "--region", metavar="CODE", help=gettext_lazy("与 --adopt 同用：区划代码")
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(_("--file %(path)s：没有这个文件") % {"path": path})
        if bool(options["adopt"]) != bool(options["region"]):
            raise CommandError(_("--adopt KEY 与 --region CODE 须同时给出"))
        try:
            if options["adopt"]:
                report = adopt_from_file(
                    key=options["adopt"], region_code=options["region"], path=path, command=COMMAND
                )
                # The summary line scripts read: not translated.
                self.stdout.write(
                    f"adopted from the file: {report.adopted} row(s) of {options['adopt']} "
                    f"for {options['region']}, unchanged {report.unchanged}"
                )
                return
            report = load_rulebook(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages))
        # The differences are tab-separated columns and the last line is the summary: scripts
        # read both, so neither is translated.
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"policy values: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's values kept)"
        )
