from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy

from config import commands
from subsidies.schemes import adopt_scheme, load_schemes


class Command(commands.Command):
    help = gettext_lazy(
        "向数据库补入津贴项目文件（subsidies/data/schemes.toml）中数据库缺少的项目。从不覆盖："
        "首次载入后以数据库为准，定义与文件不一致的每个项目都会列出，并注明由谁、何时修改。"
        "采用文件中的定义须明确指定：--adopt CODE。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--adopt", metavar="CODE", help=gettext_lazy("采用文件中该项目的定义"))

    def handle(self, *args, adopt=None, **options):
        try:
            if adopt:
                report = adopt_scheme(code=adopt)
                # The summary line scripts read: not translated.
                self.stdout.write(
                    f"adopted from the file: {report.adopted} scheme(s) ({adopt}), "
                    f"unchanged {report.unchanged}"
                )
                return
            report = load_schemes()
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        # The differences are tab-separated columns and the last line is the summary: scripts
        # read both, so neither is translated.
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"schemes: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's schemes kept)"
        )
