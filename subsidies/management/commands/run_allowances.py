"""python manage.py run_allowances --region CODE --period YYYY-MM [--sync]"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from regions.models import Region
from subsidies.periods import parse_period
from subsidies.run.planning import DEFAULT_CHUNK_SIZE, request_allowance_run


def region_from_code(code: str) -> Region:
    try:
        return Region.objects.get(code=code)
    except Region.DoesNotExist:
        raise CommandError(
            _("--region %(code)s：没有这个区划（是否尚未运行 load_regions？）") % {"code": code}
        ) from None


def period_from_text(text: str):
    try:
        return parse_period(text)
    except ValidationError as error:
        raise CommandError(
            _("--period：%(error)s") % {"error": "; ".join(error.messages)}
        ) from None


class Command(commands.Command):
    help = gettext_lazy(
        "按户籍地区和月份发放津贴：不带 --sync 时排入 Celery 队列并打印运行编号，"
        "带 --sync 时在本进程内运行。可重复运行：只补充缺少的明细。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help=gettext_lazy("区划代码，如 330106"))
        parser.add_argument("--period", required=True, help=gettext_lazy("月份，YYYY-MM"))
        parser.add_argument("--sync", action="store_true", help=gettext_lazy("在本进程内运行"))
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=gettext_lazy("每个分块处理的老年人数（默认 %(default)s）"),
        )

    def handle(self, *args, region, period, sync, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError(_("--chunk-size 至少为 1"))
        run = request_allowance_run(
            region=region_from_code(region),
            period=period_from_text(period),
            sync=sync,
            chunk_size=chunk_size,
        )
        if not sync:
            # The run's number is read by scripts: not translated.
            self.stdout.write(f"queued allowance run {run.pk}")
            return
        report = run.report
        # The summary line scripts read: not translated.
        self.stdout.write(
            f"allowance run {run.pk} {run.get_status_display()}: {run.elders_seen} elders, "
            f"batch {run.batch_id} has {report.get('batch_lines', 0)} lines, "
            f"{report.get('batch_amount', '0.00')} yuan"
        )
        if "empty" in report:
            self.stdout.write(_("该区划该月没有设定了金额的有效津贴项目：批次为空。"))
        for skipped in report.get("skipped_schemes", []):
            self.stdout.write(
                _("跳过 %(scheme)s（%(region)s）：%(reason)s")
                % {
                    "scheme": skipped["scheme"],
                    "region": skipped["region"],
                    "reason": skipped["reason"],
                }
            )
        held = report.get("held_lines") or {}
        if held.get("count"):
            self.stdout.write(
                _("暂缓（没有收款账户，补录账户前不导出）：%(count)s 条明细")
                % {"count": held["count"]}
            )
            for row in held["lines"]:
                self.stdout.write(
                    f"  {row['line']} {row['payee']} {row['id_number']} {row['scheme']} "
                    f"{row['period']} {row['amount']}: {row['reason']}"
                )
        # The adjustment batch is JSON for scripts: not translated.
        if "adjustment_batch" in report:
            self.stdout.write("adjustment batch: " + json.dumps(report["adjustment_batch"]))
