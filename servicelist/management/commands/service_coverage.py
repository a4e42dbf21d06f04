"""python manage.py service_coverage --region CODE --period YYYY-MM|YYYY --format csv|xlsx
--output FILE [--not-reached FILE] [--user USERNAME]"""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import AuditAction
from accounts.scoping import OutOfScope, require_region_in_scope
from accounts.services import record_audit
from config import commands
from servicelist.coverage import coverage
from servicelist.exports import as_bytes, coverage_table, not_reached_table
from servicelist.management.arguments import add_area_arguments, read_area_arguments


class Command(commands.Command):
    help = gettext_lazy(
        "导出服务清单覆盖情况：该区域有效的每个服务清单项目一行：item,name,kind,entitled,"
        "reached,rate（四位小数，无应享对象时为空）；--not-reached 另写出应享未享名单 "
        "item,id_number,name,residence_region,reason。导出记入审计日志。"
    )

    def add_arguments(self, parser):
        add_area_arguments(parser)
        parser.add_argument(
            "--format", default="csv", choices=["csv", "xlsx"], help=gettext_lazy("文件格式")
        )
        parser.add_argument("--not-reached", help=gettext_lazy("另将应享未享名单写入此文件"))

    def handle(self, *args, region, period, output, user=None, **options):
        area, start, end, user = read_area_arguments(region, period, user)
        if user is not None:
            try:
                require_region_in_scope(user, area, app="servicelist")
            except OutOfScope as error:
                raise CommandError(str(error)) from None
        named = bool(options["not_reached"])
        rows = coverage(area, start, end, named=named)
        file_format = options["format"]
        Path(output).write_bytes(as_bytes(coverage_table(rows), file_format))
        missed = sum(len(r.not_reached) for r in rows)
        if named:
            Path(options["not_reached"]).write_bytes(as_bytes(not_reached_table(rows), file_format))
        record_audit(
            user=user,
            action=AuditAction.EXPORT,
            object_type="service_coverage",
            object_id=area.code,
            reason="service_coverage command",
            details={
                "period": period,
                "items": len(rows),
                "not_reached": missed if named else None,
            },
        )
        self.stderr.write(
            _("%(area)s %(period)s 有效的服务清单项目：%(count)s 项")
            % {"count": len(rows), "area": area.name, "period": period}
        )
