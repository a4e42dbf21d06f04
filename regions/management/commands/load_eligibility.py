from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from regions.eligibility import RULES_FILE, adopt_rules, load_rules

# Who the audit trail names for the rows this command writes.
COMMAND = "load_eligibility"


class Command(commands.Command):
    help = gettext_lazy(
        "向数据库补入其缺少的政策适用对象规则（regions/data/eligibility.toml：探访名单、"
        "轮候优先顺序、护理员配比的照护分类）。从不覆盖：首次载入后以数据库为准，文件与数据库"
        "不一致的每条规则都会列出，并注明由谁、何时修改。采用文件中的规则须明确指定："
        "--adopt SUBJECT:CODE --region CODE。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", default=str(RULES_FILE), help=gettext_lazy("适用对象规则文件（TOML）")
        )
        parser.add_argument(
            "--adopt", metavar="SUBJECT:CODE", help=gettext_lazy("采用文件中该规则的各个版本")
        )
        parser.add_argument(
            "--region", metavar="CODE", help=gettext_lazy("与 --adopt 同用：区划代码")
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(_("--file %(path)s：没有这个文件") % {"path": path})
        if bool(options["adopt"]) != bool(options["region"]):
            raise CommandError(_("--adopt SUBJECT:CODE 与 --region CODE 须同时给出"))
        try:
            if options["adopt"]:
                subject, __, code = options["adopt"].partition(":")
                if not code:
                    raise CommandError(
                        _("--adopt 的格式为 SUBJECT:CODE，例如 visit_list:special_difficulty")
                    )
                report = adopt_rules(
                    subject=subject,
                    code=code,
                    region_code=options["region"],
                    path=path,
                    command=COMMAND,
                )
                # The summary line scripts read: not translated.
                self.stdout.write(
                    f"adopted from the file: {report.adopted} row(s) of {options['adopt']} "
                    f"for {options['region']}, unchanged {report.unchanged}"
                )
                return
            report = load_rules(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        # The differences are tab-separated columns and the last line is the summary: scripts
        # read both, so neither is translated.
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"eligibility rules: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's rules kept)"
        )
