"""python manage.py service_statistics --region CODE --period YYYY-MM|YYYY --output FILE
[--format xlsx|csv] [--user USERNAME]"""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.scoping import OutOfScope
from config import commands
from servicelist.management.arguments import add_area_arguments, read_area_arguments
from servicelist.statistics import export_statistics


class Command(commands.Command):
    help = gettext_lazy(
        "上报统计表：该区域有效的每个服务清单项目一行（按清单顺序），应享人数、已享人数、覆盖率、"
        "发放金额（暂缓、失败、取消的明细不计）、满意度均分与测评人数；XLSX 另有服务提供方满意度。"
        "CSV 带 BOM，供 Excel 打开。导出记入审计日志。"
    )

    def add_arguments(self, parser):
        add_area_arguments(parser)
        parser.add_argument(
            "--format", default="xlsx", choices=["xlsx", "csv"], help=gettext_lazy("文件格式")
        )

    def handle(self, *args, region, period, output, user=None, **options):
        area, start, end, user = read_area_arguments(region, period, user)
        try:
            statistics, content = export_statistics(
                area,
                start,
                end,
                file_format=options["format"],
                user=user,
                reason="service_statistics command",
            )
        except OutOfScope as error:
            raise CommandError(str(error)) from None
        Path(output).write_bytes(content)
        self.stderr.write(
            _("%(area)s %(period)s 有效的服务清单项目：%(count)s 项")
            % {"count": len(statistics.rows), "area": area.name, "period": statistics.period}
        )
