"""python manage.py visits_due --region CODE --date YYYY-MM-DD --format csv --output FILE"""

import datetime
import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import AuditAction
from accounts.services import record_audit
from accounts.spreadsheets import csv_text
from config import commands
from regions.models import Region
from visits.selectors import elders_to_visit, local_tz

# Other people script against these names and their order: append, never rename.
COLUMNS = [
    "id_number",
    "name",
    "frequency",
    "last_visit",
    "due",
    "residence_region",
    "groups",
    "citation",
    "residence_unknown",
]


def due_rows_csv(rows) -> str:
    """The CSV text, every cell through safe_cell (a name typed as a formula stays text)."""
    return csv_text(
        [
            COLUMNS,
            *(
                [
                    row.id_number,
                    row.name,
                    row.frequency,
                    row.last_visit.astimezone(local_tz()).date().isoformat()
                    if row.last_visit
                    else "",
                    "true" if row.due else "false",
                    row.residence_region.code,
                    ";".join(row.groups),
                    row.citation,
                    "true" if row.residence_unknown else "false",
                ]
                for row in rows
            ),
        ],
        lineterminator="\n",
    )


class Command(commands.Command):
    help = gettext_lazy(
        "列出某区域内按当日规则须探访的老年人（按常住地，未登记常住地的按户籍地），写出 CSV："
        "id_number,name,frequency(daily|monthly),last_visit(最近一次有效探访日期),"
        "due(当日/当月是否仍须探访 true|false),residence_region,groups,citation,"
        "residence_unknown。导出记入审计日志。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--region", required=True, help=gettext_lazy("区划代码（县级、街道等）")
        )
        parser.add_argument("--date", required=True, help=gettext_lazy("日期，YYYY-MM-DD"))
        parser.add_argument(
            "--format", default="csv", choices=["csv"], help=gettext_lazy("文件格式")
        )
        parser.add_argument(
            "--output", default="-", help=gettext_lazy("写入的文件；- 表示标准输出")
        )

    def handle(self, *args, region, date, output, **options):
        try:
            area = Region.objects.get(code=region)
        except Region.DoesNotExist:
            raise CommandError(
                _("--region：没有代码为 %(code)s 的区划") % {"code": region}
            ) from None
        try:
            on = datetime.date.fromisoformat(date)
        except ValueError:
            raise CommandError(
                _("--date：%(date)s 不是日期（YYYY-MM-DD）") % {"date": repr(date)}
            ) from None
        rows = elders_to_visit(areas=[area], on=on)
        text = due_rows_csv(rows)
        if output == "-":
            sys.stdout.write(text)
        else:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        record_audit(
            user=None,
            action=AuditAction.EXPORT,
            object_type="visits_due",
            object_id=area.code,
            reason="visits_due command",
            details={"date": on.isoformat(), "rows": len(rows), "output": output},
        )
        owed = sum(r.due for r in rows)
        self.stderr.write(
            _("%(area)s %(date)s 须探访的老年人 %(count)s 人，其中 %(owed)s 人仍须探访")
            % {"count": len(rows), "area": area.name, "date": on, "owed": owed}
        )
