"""python manage.py export_batch --region CODE --period YYYY-MM --format csv|xlsx --output FILE
[--channel bank_card|social_security_card|care_card] [--layout bank|finance]"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from subsidies.choices import BatchKind, BatchState, ExportFormat, LineStatus, PaymentChannel
from subsidies.exporting import Layout
from subsidies.exports import export_batch
from subsidies.management.commands.run_allowances import period_from_text, region_from_code
from subsidies.models import PaymentBatch
from subsidies.payees import held_lines_report


class Command(BaseCommand):
    help = (
        "导出已审核的支付批次（每条明细一行，另附控制合计：CSV 旁的 .totals.csv 或 XLSX 汇总表）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument("--output", required=True)
        parser.add_argument(
            "--kind",
            default=BatchKind.REGULAR,
            choices=BatchKind.values,
            help="regular (default) or adjustment: the latest approved adjustment batch",
        )

        parser.add_argument(
            "--channel",
            choices=PaymentChannel.values,
            help="only this channel's lines (the bank's file, the card platform's file); "
            "default: every payable line",
        )
        parser.add_argument(
            "--layout",
            default=Layout.BANK,
            choices=Layout.choices,
            help="bank (default): the documented machine-readable columns; finance: Chinese "
            "headers and names for Excel (CSV with a byte-order mark)",
        )

    def handle(self, *args, region, period, format, output, kind, channel, layout, **options):
        batches = PaymentBatch.objects.filter(
            region=region_from_code(region), period=period_from_text(period), kind=kind
        ).exclude(state=BatchState.DRAFT)
        batch = batches.order_by("-id").first()
        if batch is None:
            raise CommandError(
                f"--region {region} --period {period}: no approved {kind} batch to export"
            )
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"--output {output}: folder does not exist")
        try:
            record = export_batch(
                batch=batch, fmt=format, output=path, channel=channel, layout=layout
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(
            f"exported batch {batch.pk}: {record.line_count} lines, {record.total_amount} yuan, "
            f"sha256 {record.sha256}"
        )
        held = batch.lines.filter(status=LineStatus.HELD)
        if count := held.count():
            self.stdout.write(
                f"held (not exported, paid once the payee's account is added): {count} lines"
            )
            for row in held_lines_report(batch)["lines"]:
                self.stdout.write(
                    f"  {row['line']} {row['payee']} {row['id_number']} {row['scheme']} "
                    f"{row['period']} {row['amount']}: {row['reason']}"
                )
