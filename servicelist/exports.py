"""Coverage and the upward statistics as files (CSV or XLSX): every cell through safe_cell, so a
name typed as a formula stays text. The coverage's column names are an interface others
script against: append, never rename. The statistics are a file for people: Chinese headers,
numbers as numbers, the list's own order."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _

from accounts.spreadsheets import csv_text, safe_xlsx_row
from servicelist.choices import ItemKind

COVERAGE_COLUMNS = ["item", "name", "kind", "entitled", "reached", "rate"]
NOT_REACHED_COLUMNS = ["item", "id_number", "name", "residence_region", "reason"]


def coverage_table(rows) -> list[list]:
    return [
        COVERAGE_COLUMNS,
        *(
            [
                row.item.code,
                row.item.name,
                row.item.kind,
                "" if row.entitled is None else row.entitled,
                "" if row.reached is None else row.reached,
                row.rate_text,
            ]
            for row in rows
        ),
    ]


def not_reached_table(rows) -> list[list]:
    return [
        NOT_REACHED_COLUMNS,
        *(
            [n.item, n.id_number, n.name, n.residence_region, n.reason]
            for row in rows
            for n in row.not_reached
        ),
    ]


def as_bytes(table: list[list], file_format: str) -> bytes:
    if file_format == "csv":
        return csv_text(table, lineterminator="\n").encode("utf-8")
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in table:
        sheet.append(safe_xlsx_row(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the upward statistics, for people -----------------------------------------------------------


def statistics_headers() -> list[str]:
    return [
        _("项目代码"),
        _("服务项目"),
        _("类型"),
        _("应享人数"),
        _("已享人数"),
        _("覆盖率"),
        _("发放金额（元）"),
        _("满意度均分（1–5分）"),
        _("测评人数"),
        _("说明"),
    ]


def provider_headers() -> list[str]:
    return [_("服务提供方"), _("满意度均分（1–5分）"), _("测评人数")]


def _blank(value):
    return "" if value is None else value


def statistics_rows(statistics) -> list[list]:
    """The rows in the list's own order; numbers as numbers (rate as a fraction, amounts and
    means as Decimals), empty where there is nothing to count."""
    kinds = dict(ItemKind.choices)
    return [
        [
            row.item.code,
            row.item.name,
            str(kinds.get(row.item.kind, row.item.kind)),
            _blank(row.coverage.entitled),
            _blank(row.coverage.reached),
            _blank(row.coverage.rate),
            _blank(row.paid),
            _blank(row.satisfaction.mean),
            row.satisfaction.responses,
            row.coverage.note,
        ]
        for row in statistics.rows
    ]


def provider_rows(statistics) -> list[list]:
    return [
        [p.provider, _blank(p.satisfaction.mean), p.satisfaction.responses]
        for p in statistics.providers
    ]


RATE_AT, PAID_AT, MEAN_AT = 5, 6, 7


def statistics_file(statistics, file_format: str) -> bytes:
    """XLSX (a sheet of items, titled with the area and period, and one of providers), or a
    CSV of the items with a byte-order mark, so that Excel on Chinese Windows reads UTF-8.
    Every cell through safe_cell."""
    rows = statistics_rows(statistics)
    if file_format == "csv":
        for row, of in zip(rows, statistics.rows, strict=True):
            row[RATE_AT] = of.coverage.rate_percent
        return ("\ufeff" + csv_text([statistics_headers(), *rows])).encode("utf-8")
    title = _("%(region)s（%(code)s）基本养老服务统计 %(period)s") % {
        "region": statistics.region.name,
        "code": statistics.region.code,
        "period": statistics.period,
    }
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    items = workbook.active
    items.title = _("服务项目")
    items.append(safe_xlsx_row([title]))
    items["A1"].font = Font(bold=True, size=13)
    items.append(safe_xlsx_row(statistics_headers()))
    for row in rows:
        items.append(safe_xlsx_row(row))
    formats = {RATE_AT: "0.00%", PAID_AT: "#,##0.00", MEAN_AT: "0.00"}
    for column, number_format in formats.items():
        for cell in items.iter_rows(min_row=3, min_col=column + 1, max_col=column + 1):
            cell[0].number_format = number_format
    widths = [12, 28, 12, 10, 10, 10, 16, 16, 10, 36]
    _lay_out(items, widths, header_row=2)
    providers = workbook.create_sheet(_("服务提供方"))
    providers.append(safe_xlsx_row(provider_headers()))
    for row in provider_rows(statistics):
        providers.append(safe_xlsx_row(row))
    _lay_out(providers, [36, 16, 10], header_row=1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _lay_out(sheet, widths: list[int], *, header_row: int) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{header_row + 1}"
