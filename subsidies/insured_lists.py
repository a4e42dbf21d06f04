"""The insured list (参保名单) of an insurer for a year or a month: who the premiums it is paid
insure, from the payment lines themselves (subsidies.insurers), as a file for finance and, with
the whole ID numbers, for the insurer's enrolment.

One row per insured elder and scheme of the period (the lines that say what is owed: normal
and arrears, not cancelled; a re-issue or a correction pays a line again, it insures nobody
new), with the line's status, so that the list and the payment never disagree. The file ends
with its total, the transfer finance makes.

ID numbers are masked unless the user's work needs them whole (accounts.selectors), or unless
this is the insurer's copy: whole ID numbers for enrolment, only for finance or the bureau
holding the permission ``subsidies.export_full_insured_list``, with a reason. Every export is
recorded in the audit trail. Every cell goes through safe_cell; the CSV starts with a
byte-order mark (Excel on Chinese Windows).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext as _

from accounts.choices import AuditAction, Role
from accounts.scoping import (
    OutOfScope,
    require_region_in_scope,
    role_reaches_app,
    scope_of,
    scoped,
)
from accounts.selectors import sees_full_personal_data
from accounts.spreadsheets import safe_row
from regions.models import Region
from residents.id_numbers import mask_id_number
from subsidies import exporting
from subsidies.choices import ExportFormat, LineKind, LineStatus
from subsidies.models import Insurer, PaymentLine, line_reference, money
from subsidies.periods import parse_months

COLUMNS = [
    "reference",
    "scheme",
    "period",
    "id_number",
    "name",
    "hukou_region",
    "amount",
    "status",
]
AMOUNT_AT = COLUMNS.index("amount")
WIDTHS = [14, 30, 10, 21, 14, 14, 12, 16]
FULL_LIST_PERMISSION = "subsidies.export_full_insured_list"


def headers() -> list[str]:
    return [
        _("支付参考号"),
        _("津贴项目"),
        _("所属月份"),
        _("身份证号"),
        _("姓名"),
        _("户籍地"),
        _("保费（元）"),
        _("发放状态"),
    ]


def may_export_full_list(user) -> bool:
    """The insurer's copy (whole ID numbers): the system, a superuser, or finance or a bureau
    (not read-only) holding the permission."""
    if user is None:
        return True
    scope = scope_of(user)
    if scope.everything:
        return True
    roles = scope.roles & {Role.FINANCE, Role.BUREAU}
    return bool(roles) and not scope.read_only and user.has_perm(FULL_LIST_PERMISSION)


def insured_lines(
    insurer: Insurer,
    first: datetime.date,
    last: datetime.date,
    *,
    by=None,
    region: Region | None = None,
) -> QuerySet[PaymentLine]:
    """The lines paying ``insurer`` for elders it insures in the months ``first``–``last``,
    within ``by``'s scope (and ``region``'s batches), in line order."""
    lines = PaymentLine.objects.filter(
        insurer=insurer,
        period__gte=first,
        period__lte=last,
        kind__in=[LineKind.NORMAL, LineKind.ARREARS],
    ).exclude(status=LineStatus.CANCELLED)
    if region is not None:
        lines = lines.filter(batch__region__path__startswith=region.path)
    if by is not None:
        lines = scoped(lines, by)
    return lines.order_by("id")


@dataclass
class InsuredListFile:
    path: Path
    sha256: str
    count: int
    amount: Decimal
    full_ids: bool


def export_insured_list(
    *,
    insurer: Insurer,
    period: str,
    fmt: str,
    output: Path,
    by=None,
    region: Region | None = None,
    full_ids: bool = False,
    reason: str = "",
) -> InsuredListFile:
    """Write the insured list of ``insurer`` for ``period`` (``YYYY`` or ``YYYY-MM``) as CSV or
    XLSX and record the export. Refused (PermissionDenied) to a user whose roles do not reach
    the subsidies (may_read_insured_list), whatever the door. ``full_ids`` is the insurer's
    copy: refused unless ``may_export_full_list``, and a reason is required."""
    from accounts.services import record_audit

    if fmt not in ExportFormat.values:
        raise ValidationError(
            {"format": _("格式 %(format)s 不支持，应为 csv 或 xlsx。") % {"format": fmt}}
        )
    if by is not None and not may_read_insured_list(by):
        raise PermissionDenied(_("参保名单由财务和民政部门导出。"))
    if by is not None and region is not None:
        # Whatever the door: a region outside the user's areas is refused, naming it (the
        # lines are scoped besides, so it would only ever give an empty list).
        try:
            require_region_in_scope(by, region, app="subsidies")
        except OutOfScope as error:
            raise ValidationError({"region": str(error)}) from None
    first, last = parse_months(period)
    reason = (reason or "").strip()
    if full_ids:
        if not may_export_full_list(by):
            raise PermissionDenied(
                _("只有具备“导出完整参保名单”权限的财务或民政人员可以导出含完整身份证号的名单。")
            )
        if not reason:
            raise ValidationError({"reason": _("导出含完整身份证号的参保名单须写明事由。")})
    whole = full_ids or (by is not None and sees_full_personal_data(by))
    lines = insured_lines(insurer, first, last, by=by, region=region)
    totals = lines.aggregate(count=Count("id"), amount=Sum("amount"))
    count, amount = totals["count"], money(totals["amount"] or 0)
    rows = _rows(lines, whole)
    summary = [
        _("合计"),
        insurer.name,
        insurer.uscc,
        _("%(count)s 人次") % {"count": count},
        "",
        "",
        str(amount),
        "",
    ]
    output = Path(output)
    if fmt == ExportFormat.CSV:
        digest = _write_csv(output, rows, summary)
    else:
        digest = _write_xlsx(output, rows, summary)
    record_audit(
        user=by,
        action=AuditAction.EXPORT,
        object_type="subsidies.insurer",
        object_id=str(insurer.pk),
        reason=reason[:200],
        details={
            "insured_list": period,
            "region": region.code if region is not None else "",
            "format": fmt,
            "full_ids": whole,
            "file": output.name,
            "sha256": digest,
            "lines": count,
        },
    )
    return InsuredListFile(output, digest, count, amount, whole)


def _rows(lines: QuerySet[PaymentLine], whole: bool):
    statuses = dict(LineStatus.choices)
    for pk, scheme, period, id_number, name, region, amount, status in lines.values_list(
        "pk",
        "scheme__label",
        "period",
        "elder__id_number",
        "elder__name",
        "elder__hukou_region__name",
        "amount",
        "status",
    ).iterator(chunk_size=5000):
        yield [
            line_reference(pk),
            scheme,
            f"{period:%Y-%m}",
            id_number if whole else mask_id_number(id_number),
            name,
            region,
            str(amount),
            str(statuses.get(status, status)),
        ]


def _write_csv(output: Path, rows, summary: list) -> str:
    digest = hashlib.sha256()
    with open(output, "wb") as handle:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel on Chinese Windows then reads UTF-8
        writer.writerow(headers())

        def flush():
            data = buffer.getvalue().encode("utf-8")
            digest.update(data)
            handle.write(data)
            buffer.seek(0)
            buffer.truncate()

        for n, row in enumerate(rows, start=1):
            writer.writerow(safe_row(row))
            if n % 5000 == 0:
                flush()
        writer.writerow(safe_row(summary))
        flush()
    return digest.hexdigest()


def _write_xlsx(output: Path, rows, summary: list) -> str:
    def detail():
        yield exporting.header_cells(headers())
        yield from exporting.table_rows(rows, AMOUNT_AT, len(COLUMNS))
        yield exporting.summary_cells(summary, AMOUNT_AT)

    return exporting.write_workbook(output, [(_("参保名单"), detail(), WIDTHS, 1)])


def may_read_insured_list(user) -> bool:
    """Whom an insured list is for: the roles that reach the subsidies app (finance, the
    bureau, auditors), masked unless their work needs whole ID numbers."""
    scope = scope_of(user)
    return scope.everything or any(
        role_reaches_app(role, "subsidies") for role, _path in scope.region_grants
    )
