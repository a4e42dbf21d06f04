"""python manage.py reconcile_batch --batch ID --file RETURN.csv

The bank's return file is a CSV with a header: reference (or id_number), status (paid/failed),
bank_reference, and optionally message.
"""

import csv
import hashlib
import io
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from subsidies.models import PaymentBatch
from subsidies.services import BankReturnRow, reconcile_batch


def parse_bank_return(data: bytes) -> list[BankReturnRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("回盘文件应为 UTF-8 编码的 CSV。") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    if "status" not in columns or not columns & {"reference", "id_number"}:
        raise ValidationError("回盘文件表头应包含 status 以及 reference 或 id_number。")
    return [
        BankReturnRow(
            row=number,
            reference=(record.get("reference") or "").strip(),
            id_number=(record.get("id_number") or "").strip(),
            status=record.get("status") or "",
            bank_reference=record.get("bank_reference") or "",
            message=record.get("message") or "",
        )
        for number, record in enumerate(reader, start=2)
    ]


class Command(BaseCommand):
    help = "导入银行回盘文件对账；失败的明细转入下一批次重发。"

    def add_arguments(self, parser):
        parser.add_argument("--batch", required=True, type=int)
        parser.add_argument("--file", required=True)

    def handle(self, *args, batch, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"--file {file}: no such file")
        try:
            payment_batch = PaymentBatch.objects.get(pk=batch)
        except PaymentBatch.DoesNotExist:
            raise CommandError(f"--batch {batch}: no such batch") from None
        data = path.read_bytes()
        try:
            record = reconcile_batch(
                batch=payment_batch,
                rows=parse_bank_return(data),
                file_name=path.name,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"paid {record.paid_count}, failed {record.failed_count}")
