"""python manage.py run_allowances --region CODE --period YYYY-MM [--sync]"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.models import Region
from subsidies.periods import parse_period
from subsidies.run.planning import DEFAULT_CHUNK_SIZE, request_allowance_run


def region_from_code(code: str) -> Region:
    try:
        return Region.objects.get(code=code)
    except Region.DoesNotExist:
        raise CommandError(f"--region {code}: no such region (load_regions first?)") from None


def period_from_text(text: str):
    try:
        return parse_period(text)
    except ValidationError as error:
        raise CommandError(f"--period: {'; '.join(error.messages)}") from None


class Command(BaseCommand):
    help = (
        "按户籍地区和月份发放津贴：不带 --sync 时排入 Celery 队列并打印运行编号，"
        "带 --sync 时在本进程内运行。可重复运行：只补充缺少的明细。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="region code, e.g. 330106")
        parser.add_argument("--period", required=True, help="month, YYYY-MM")
        parser.add_argument("--sync", action="store_true", help="run in this process")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)

    def handle(self, *args, region, period, sync, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        run = request_allowance_run(
            region=region_from_code(region),
            period=period_from_text(period),
            sync=sync,
            chunk_size=chunk_size,
        )
        if not sync:
            self.stdout.write(f"queued allowance run {run.pk}")
            return
        report = run.report
        self.stdout.write(
            f"allowance run {run.pk} {run.get_status_display()}: {run.elders_seen} elders, "
            f"batch {run.batch_id} has {report.get('batch_lines', 0)} lines, "
            f"{report.get('batch_amount', '0.00')} yuan"
        )
        if "empty" in report:
            self.stdout.write(report["empty"])
        for skipped in report.get("skipped_schemes", []):
            self.stdout.write(
                f"skipped {skipped['scheme']} ({skipped['region']}): {skipped['reason']}"
            )
        held = report.get("held_lines") or {}
        if held.get("count"):
            self.stdout.write(
                f"held (no payee account, not exported until one is added): {held['count']} lines"
            )
            for row in held["lines"]:
                self.stdout.write(
                    f"  {row['line']} {row['payee']} {row['id_number']} {row['scheme']} "
                    f"{row['period']} {row['amount']}: {row['reason']}"
                )
        if "adjustment_batch" in report:
            self.stdout.write("adjustment batch: " + json.dumps(report["adjustment_batch"]))
