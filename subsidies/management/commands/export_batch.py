"""python manage.py export_batch --region CODE --period YYYY-MM --format csv|xlsx --output FILE
[--channel bank_card|social_security_card|care_card] [--layout bank|finance]"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from subsidies.choices import BatchKind, BatchState, ExportFormat, LineStatus, PaymentChannel
from subsidies.exporting import Layout
from subsidies.exports import export_batch
from subsidies.management.commands.run_allowances import period_from_text, region_from_code
from subsidies.models import PaymentBatch
from subsidies.payees import held_lines_report


class Command(commands.Command):
    help = gettext_lazy(
        "导出已审核的支付批次（每条明细一行，另附控制合计：CSV 旁的 .totals.csv 或 XLSX 汇总表）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help=gettext_lazy("批次的区划代码"))
        parser.add_argument("--period", required=True, help=gettext_lazy("月份，YYYY-MM"))
        parser.add_argument(
            "--format", required=True, choices=ExportFormat.values, help=gettext_lazy("文件格式")
        )
        parser.add_argument("--output", required=True, help=gettext_lazy("写入的文件"))
        parser.add_argument(
            "--kind",
            default=BatchKind.REGULAR,
            choices=BatchKind.values,
            help=gettext_lazy("regular（常规批次，默认）或 adjustment（最近一个已审核的调整批次）"),
        )

        parser.add_argument(
            "--channel",
            choices=PaymentChannel.values,
            help=gettext_lazy(
                "只导出该支付渠道的明细（交银行的文件、交卡平台的文件）；默认导出全部可支付明细"
            ),
        )
        parser.add_argument(
            "--layout",
            default=Layout.BANK,
            choices=Layout.choices,
            help=gettext_lazy(
                "bank（默认）：约定的机读列；finance：中文表头和名称，供 Excel 打开"
                "（CSV 带字节顺序标记）"
            ),
        )

    def handle(self, *args, region, period, format, output, kind, channel, layout, **options):
        batches = PaymentBatch.objects.filter(
            region=region_from_code(region), period=period_from_text(period), kind=kind
        ).exclude(state=BatchState.DRAFT)
        batch = batches.order_by("-id").first()
        if batch is None:
            raise CommandError(
                _("--region %(region)s --period %(period)s：没有可导出的已审核 %(kind)s 批次")
                % {"region": region, "period": period, "kind": kind}
            )
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(_("--output %(output)s：文件夹不存在") % {"output": output})
        try:
            record = export_batch(
                batch=batch, fmt=format, output=path, channel=channel, layout=layout
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        # The summary line scripts read: not translated.
        self.stdout.write(
            f"exported batch {batch.pk}: {record.line_count} lines, {record.total_amount} yuan, "
            f"sha256 {record.sha256}"
        )
        held = batch.lines.filter(status=LineStatus.HELD)
        if count := held.count():
            self.stdout.write(
                _("暂缓（未导出，补录收款账户后支付）：%(count)s 条明细") % {"count": count}
            )
            for row in held_lines_report(batch)["lines"]:
                self.stdout.write(
                    f"  {row['line']} {row['payee']} {row['id_number']} {row['scheme']} "
                    f"{row['period']} {row['amount']}: {row['reason']}"
                )
