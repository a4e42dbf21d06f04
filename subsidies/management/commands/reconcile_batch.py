"""python manage.py reconcile_batch --batch ID --file RETURN.csv

The bank's return file is a CSV or XLSX with a header: reference (or id_number), status
(paid/failed), bank_reference, and optionally message (subsidies/bank_returns.py).
"""

import hashlib
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from subsidies.bank_returns import parse_bank_return
from subsidies.exports import reconcile_batch
from subsidies.models import PaymentBatch


class Command(commands.Command):
    help = gettext_lazy("导入银行回盘文件对账；失败的明细转入下一批次重发。")

    def add_arguments(self, parser):
        parser.add_argument("--batch", required=True, type=int, help=gettext_lazy("支付批次编号"))
        parser.add_argument(
            "--file", required=True, help=gettext_lazy("银行回盘文件（CSV 或 XLSX）")
        )

    def handle(self, *args, batch, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("--file %(path)s：没有这个文件") % {"path": file})
        try:
            payment_batch = PaymentBatch.objects.get(pk=batch)
        except PaymentBatch.DoesNotExist:
            raise CommandError(_("--batch %(batch)s：没有这个批次") % {"batch": batch}) from None
        data = path.read_bytes()
        try:
            record = reconcile_batch(
                batch=payment_batch,
                rows=parse_bank_return(data, path.name),
                file_name=path.name,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        # The summary line scripts read: not translated.
        self.stdout.write(f"paid {record.paid_count}, failed {record.failed_count}")
