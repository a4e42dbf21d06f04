"""Export files for finance and the bank: one row per line, plus control totals.

Two layouts of the same rows (``Layout``):

- ``bank``, machine-readable: the documented columns (``COLUMNS``: today's first, in today's
  order, then where the money goes), codes as they are, UTF-8 without a byte-order mark. This
  is the file the bank and the card platform read.
- ``finance``, for people: Chinese headers, scheme, kind and channel by name; the CSV starts
  with a byte-order mark so Excel on Chinese Windows reads it as UTF-8; the XLSX has numbers
  with two decimals, column widths and a frozen header.

Files are streamed, so a province's batch never sits in memory. On PostgreSQL the bank CSV is
``COPY … TO STDOUT`` of the export's SELECT, written as it arrives (only the account numbers,
which the database holds encrypted, are decrypted on the way); the other files read the same
SELECT through a server-side cursor; elsewhere the ORM gives the same rows, cell for cell. The
control totals are computed once, the checksum while the file is written (never re-read), and
XLSX sheets are written as XML straight into the archive.

Every cell is written through accounts.spreadsheets.safe_cell (the COPY path applies the same
rule in SQL), so a name typed as a formula is shown as text, never run. Amounts are numbers:
plain decimal text in the CSV (a recovery reads ``-60.00``), numeric cells with two places in
the XLSX, so finance can sum them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from django.db import connection, transaction
from django.db.models import Case, Count, F, Sum, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext as _

from accounts.spreadsheets import (
    FORMULA_TRIGGERS,
    safe_cell,
    safe_row,
    safe_text_sql,
    safe_xlsx_row,
)
from subsidies import account_crypto
from subsidies.choices import LineKind, LineStatus, PaymentChannel
from subsidies.models import PaymentBatch, Scheme, line_reference, money
from subsidies.selectors import live_lines, payee_id_number, payee_name


class Layout:
    BANK = "bank"
    FINANCE = "finance"
    choices = (BANK, FINANCE)


# Today's columns first, in today's order, then where the money goes.
COLUMNS = [
    "reference",
    "id_number",
    "name",
    "scheme",
    "period",
    "amount",
    "kind",
    "channel",
    "bank",
    "account_number",
    "account_holder",
]


def finance_headers() -> list[str]:
    return [
        _("支付参考号"),
        _("证件号码"),
        _("姓名/名称"),
        _("津贴项目"),
        _("所属月份"),
        _("金额（元）"),
        _("类型"),
        _("发放渠道"),
        _("开户银行"),
        _("账号"),
        _("户名"),
    ]


# XLSX column widths (characters) for the detail sheets: an ID number is 18.
COLUMN_WIDTHS = [14, 21, 16, 30, 10, 12, 14, 20, 20, 23, 16]
AMOUNT_INDEX = COLUMNS.index("amount")
ACCOUNT_INDEX = COLUMNS.index("account_number")
# Excel's limit is 1,048,576 rows per sheet; one of them is the header.
MAX_SHEET_ROWS = 1_048_576

FETCH_SIZE = 20000

# The account's columns come from the payee's account, joined four ways (one payee is paid by
# a line: the insurer of an insured elder's premium, else the line's person or facility).
# Lines of a scheme credited to the care card carry no account: the platform knows the elder
# by ID number; their holder is the payee.
_CARE = PaymentChannel.CARE_CARD.value
_ACCOUNT = "COALESCE(ai.{0}, ae.{0}, ac.{0}, af.{0})"
_CHANNEL_SQL = f"COALESCE(NULLIF(s.channel, ''), {_ACCOUNT.format('channel')})"
# The stored account number (nonce, ciphertext, tag) travels as a token the writer opens:
# \x01 <payee kind>:<payee id>:<hex> \x01 — the kind and id are the ciphertext's associated data.
_TOKEN_SQL = (
    "chr(1) || CASE WHEN ai.id IS NOT NULL THEN 'insurer:' || ai.insurer_id "
    "WHEN ae.id IS NOT NULL THEN 'elder:' || ae.elder_id "
    "WHEN ac.id IS NOT NULL THEN 'caregiver:' || ac.caregiver_id "
    "ELSE 'facility:' || af.facility_id END || ':' || "
    f"encode({_ACCOUNT.format('account_number_encrypted')}, 'hex') || chr(1)"
)
_TOKEN_BODY = rb"(insurer|elder|caregiver|facility):([0-9]+):([0-9a-f]+)"
_TOKEN = re.compile(rb"\x01" + _TOKEN_BODY + rb"\x01")
_BARE_TOKEN = re.compile(_TOKEN_BODY)

# The same columns as export_rows' ORM path, formatted by PostgreSQL: the reference as
# line_reference(pk) (lpad would cut a longer id, so longer ids are left whole), the payee's
# identifier and name as selectors.payee_id_number/payee_name, the period as YYYY-MM and the
# amount as numeric(12,2) text, which is what str(Decimal) gives.
_COLUMNS_SQL = [
    "'PL' || CASE WHEN l.id < 10000000000 THEN lpad(l.id::text, 10, '0') ELSE l.id::text END",
    "COALESCE(i.uscc, e.id_number, c.id_number, NULLIF(f.uscc, ''), f.code)",
    "COALESCE(i.name, e.name, c.name, f.name)",
    "s.code",
    "to_char(l.period, 'YYYY-MM')",
    "l.amount::text",
    "l.kind",
    _CHANNEL_SQL,
    f"CASE WHEN s.channel = '{_CARE}' THEN NULL ELSE {_ACCOUNT.format('bank')} END",
    f"CASE WHEN s.channel = '{_CARE}' OR COALESCE(ai.id, ae.id, ac.id, af.id) IS NULL THEN NULL "
    f"ELSE {_TOKEN_SQL} END",
    f"CASE WHEN s.channel = '{_CARE}' THEN COALESCE(i.name, e.name, c.name, f.name) "
    f"ELSE {_ACCOUNT.format('holder_name')} END",
]
# Two parameters, the batch and the cancelled status (held lines are never exported); a
# channel adds a third.
_FROM_SQL = f"""
FROM subsidies_paymentline l
JOIN subsidies_scheme s ON s.id = l.scheme_id
LEFT JOIN residents_elder e ON e.id = l.elder_id
LEFT JOIN facilities_caregiver c ON c.id = l.caregiver_id
LEFT JOIN facilities_facility f ON f.id = l.facility_id
LEFT JOIN subsidies_insurer i ON i.id = l.insurer_id
LEFT JOIN subsidies_payeeaccount ai ON ai.insurer_id = l.insurer_id
LEFT JOIN subsidies_payeeaccount ae ON ae.elder_id = l.elder_id AND l.insurer_id IS NULL
LEFT JOIN subsidies_payeeaccount ac ON ac.caregiver_id = l.caregiver_id
LEFT JOIN subsidies_payeeaccount af ON af.facility_id = l.facility_id
WHERE l.batch_id = %s AND l.status <> %s AND l.status <> '{LineStatus.HELD.value}'
"""
_CHANNEL_FILTER_SQL = f"AND {_CHANNEL_SQL} = %s\n"
_ORDER_SQL = "ORDER BY l.id"
_ROWS_SQL = "SELECT " + ",\n       ".join(_COLUMNS_SQL) + _FROM_SQL + _ORDER_SQL

# For COPY: every cell as the csv path writes it, through safe_cell's rule in SQL, and empty
# texts as NULL (PostgreSQL quotes an empty string, the csv module does not; both leave
# NULL/None unquoted and empty).
_COPY_SELECT = "SELECT " + ",\n       ".join(
    f"NULLIF({safe_text_sql(column)}, '')" for column in _COLUMNS_SQL
)
_COPY_SQL = _COPY_SELECT + _FROM_SQL + _ORDER_SQL


def _select(base_select: str, channel: str | None) -> str:
    return base_select + _FROM_SQL + (_CHANNEL_FILTER_SQL if channel else "") + _ORDER_SQL


def _params(batch: PaymentBatch, channel: str | None) -> list:
    return [batch.pk, LineStatus.CANCELLED.value] + ([channel] if channel else [])


def _tune_for_export(cursor) -> None:
    """For this transaction only: enough memory to hash the payees and sort a million lines
    without spilling to disk (the default 4 MB doubles the time of a million-line export),
    and no JIT compilation, which costs more than it saves on this one scan."""
    cursor.execute("SET LOCAL work_mem = '128MB'")
    cursor.execute("SET LOCAL jit = off")


def _open_token(kind: str, pk: str, hex_text: str) -> str:
    return account_crypto.decrypt(bytes.fromhex(hex_text), account_crypto.payee_ref(kind, pk))


# A payee's account is on each of their lines (several schemes, arrears of several months):
# each distinct token is decrypted once per export. Bounded, so memory stays flat.
_OPENED_LIMIT = 200_000


class _TokenMismatch(ValueError):
    """A \\x01 that does not delimit a token (a name typed with one): not the COPY path's."""


def _token_opener():
    """The account number of a token (the bytes between two \\x01), decrypted once per
    export."""
    opened: dict[bytes, bytes] = {}

    def open_token(token: bytes) -> bytes:
        number = opened.get(token)
        if number is None:
            match = _BARE_TOKEN.fullmatch(token)
            if match is None:
                raise _TokenMismatch(token[:40])
            if len(opened) >= _OPENED_LIMIT:
                opened.clear()
            kind, pk, body = (group.decode() for group in match.groups())
            number = opened[token] = _open_token(kind, pk, body).encode()
        return number

    return open_token


def _tokens_opened(data: bytes, open_token) -> bytes:
    """Records with their tokens replaced by the account numbers: split at the delimiters,
    every second piece is a token."""
    pieces = data.split(b"\x01")
    if len(pieces) % 2 == 0:
        raise _TokenMismatch(b"unpaired")
    pieces[1::2] = [open_token(token) for token in pieces[1::2]]
    return b"".join(pieces)


def _account_opener():
    """The same for one cell of a row read through the cursor."""
    open_token = _token_opener()

    def open_cell(cell):
        if cell is None:
            return None
        match = _TOKEN.fullmatch(cell.encode())
        return open_token(match.group(0)[1:-1]).decode() if match else cell

    return open_cell


# --- rows -------------------------------------------------------------------------------------


def export_rows(batch: PaymentBatch, channel: str | None = None) -> Iterator[list]:
    """One row per line to pay (``COLUMNS``), in line order; ``channel`` keeps one channel."""
    if connection.vendor == "postgresql":
        yield from _export_rows_postgresql(batch, channel)
        return
    yield from _export_rows_orm(batch, channel)


def _export_rows_postgresql(batch: PaymentBatch, channel: str | None = None) -> Iterator[list]:
    # A named (server-side) cursor lives in a transaction and streams FETCH_SIZE rows at a
    # time, so memory stays flat whatever the batch size.
    with transaction.atomic():
        connection.ensure_connection()
        with connection.cursor() as plain:
            _tune_for_export(plain)
            # The whole result is wanted: plan for all rows, not for the first ones (the
            # default for cursors), which would walk the lines' index row by row.
            plain.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        open_cell = _account_opener()
        with connection.connection.cursor(name=f"export_batch_{batch.pk}") as cursor:
            cursor.itersize = FETCH_SIZE
            cursor.execute(
                _select("SELECT " + ", ".join(_COLUMNS_SQL), channel), _params(batch, channel)
            )
            while rows := cursor.fetchmany(FETCH_SIZE):
                for row in rows:
                    row = list(row)
                    row[ACCOUNT_INDEX] = open_cell(row[ACCOUNT_INDEX])
                    yield row


def _account(field: str):
    """The paid payee's account ``field``: an insured elder's own account is not the one
    their premium is paid to."""
    return Coalesce(
        f"insurer__payee_account__{field}",
        Case(When(insurer__isnull=True, then=F(f"elder__payee_account__{field}"))),
        f"caregiver__payee_account__{field}",
        f"facility__payee_account__{field}",
    )


def line_channel():
    """The line's channel as a query expression: the scheme's, else the payee's account's."""
    return Coalesce(NullIf("scheme__channel", Value("")), _account("channel"))


def lines_to_export(batch: PaymentBatch, channel: str | None = None):
    lines = live_lines(batch)
    if channel:
        lines = lines.annotate(pay_channel=line_channel()).filter(pay_channel=channel)
    return lines


def _export_rows_orm(batch: PaymentBatch, channel: str | None = None) -> Iterator[list]:
    rows = (
        lines_to_export(batch, channel)
        .order_by("id")
        .annotate(
            payee_id_number=payee_id_number(),
            payee_name=payee_name(),
            pay_channel=line_channel(),
            account_bank=_account("bank"),
            account_holder=_account("holder_name"),
            account_id=_account("id"),
            account_secret=_account("account_number_encrypted"),
        )
        .values_list(
            "id",
            "payee_id_number",
            "payee_name",
            "scheme__code",
            "period",
            "amount",
            "kind",
            "pay_channel",
            "scheme__channel",
            "account_bank",
            "account_id",
            "account_secret",
            "account_holder",
            "elder_id",
            "caregiver_id",
            "facility_id",
            "insurer_id",
        )
    )
    for (
        pk,
        id_number,
        name,
        scheme,
        period,
        amount,
        kind,
        pay_channel,
        scheme_channel,
        bank,
        account_id,
        secret,
        holder,
        elder_id,
        caregiver_id,
        facility_id,
        insurer_id,
    ) in rows.iterator(chunk_size=5000):
        if scheme_channel == _CARE:
            bank, number, holder = None, None, name
        elif account_id is None:
            number = None
        else:
            kind_of_payee, payee_pk = next(
                (kind, pk)
                for kind, pk in (
                    ("insurer", insurer_id),
                    ("elder", elder_id),
                    ("caregiver", caregiver_id),
                    ("facility", facility_id),
                )
                if pk
            )
            number = account_crypto.decrypt(
                secret, account_crypto.payee_ref(kind_of_payee, payee_pk)
            )
        yield [
            line_reference(pk),
            id_number,
            name,
            scheme,
            f"{period:%Y-%m}",
            f"{amount}",
            kind,
            pay_channel,
            bank,
            number,
            holder,
        ]


# --- totals -----------------------------------------------------------------------------------


class Totals:
    """Per scheme: count and amount of the exported lines, computed once per export."""

    def __init__(self, batch: PaymentBatch, channel: str | None = None):
        rows = (
            lines_to_export(batch, channel)
            .values("scheme__code", "scheme__label")
            .annotate(count=Count("id"), amount=Sum("amount"))
            .order_by("scheme__code")
        )
        self.schemes = [
            (r["scheme__code"], r["scheme__label"], r["count"], money(r["amount"] or 0))
            for r in rows
        ]
        self.count = sum(row[2] for row in self.schemes)
        # The grand total is the sum of the schemes' (amounts have two places: the sum is exact).
        self.amount = money(sum((row[3] for row in self.schemes), Decimal("0")))

    def rows(self) -> list[list]:
        rows = [["scheme", "label", "count", "amount"]]
        rows += [[code, label, count, f"{amount}"] for code, label, count, amount in self.schemes]
        rows.append(["TOTAL", "合计", self.count, f"{self.amount}"])
        return rows


def totals_rows(batch: PaymentBatch, channel: str | None = None) -> list[list]:
    return Totals(batch, channel).rows()


class ExportFiles(list):
    """The files written (lines file first), with what export_batch records of them."""

    sha256: str = ""
    count: int = 0
    amount: Decimal = Decimal("0.00")


class _HashingWriter(io.RawIOBase):
    """A binary file that hashes what is written to it (the checksum without a re-read)."""

    def __init__(self, handle):
        super().__init__()
        self.handle = handle
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def totals_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".totals.csv")


# --- labels for people ------------------------------------------------------------------------


def _labeller(batch: PaymentBatch):
    """The row as finance reads it: scheme, kind and channel by name."""
    schemes = dict(Scheme.objects.values_list("code", "label"))
    kinds = dict(LineKind.choices)
    channels = dict(PaymentChannel.choices)
    scheme_at, kind_at, channel_at = (COLUMNS.index(c) for c in ("scheme", "kind", "channel"))

    def label(row: list) -> list:
        row[scheme_at] = schemes.get(row[scheme_at], row[scheme_at])
        row[kind_at] = str(kinds.get(row[kind_at], row[kind_at]))
        row[channel_at] = str(channels.get(row[channel_at], row[channel_at] or ""))
        return row

    return label


# --- CSV --------------------------------------------------------------------------------------


def write_csv(
    batch: PaymentBatch,
    output: Path,
    *,
    channel: str | None = None,
    layout: str = Layout.BANK,
    totals: Totals | None = None,
) -> ExportFiles:
    """The lines CSV and, beside it, ``<name>.totals.csv`` with per-scheme control totals and
    the checksum of the lines file."""
    totals = totals or Totals(batch, channel)
    digest = None
    if layout == Layout.BANK and connection.vendor == "postgresql":
        digest = _write_csv_by_copy_or_not(batch, output, totals.count, channel)
    if not digest:
        with open(output, "wb") as raw:
            hashing = _HashingWriter(raw)
            text = io.TextIOWrapper(hashing, encoding="utf-8", newline="", write_through=True)
            writer = csv.writer(text)
            if layout == Layout.FINANCE:
                text.write("\ufeff")  # Excel on Chinese Windows then reads UTF-8
                label = _labeller(batch)
                writer.writerow(finance_headers())
                writer.writerows(safe_row(label(row)) for row in export_rows(batch, channel))
            else:
                writer.writerow(COLUMNS)
                writer.writerows(map(safe_row, export_rows(batch, channel)))
            text.flush()
            text.detach()
            digest = hashing.digest.hexdigest()
    totals_file = totals_path_for(output)
    with open(totals_file, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows(map(safe_row, totals.rows()))
        writer.writerow(["sha256", output.name, "", digest])
    files = ExportFiles([output, totals_file])
    files.sha256, files.count, files.amount = digest, totals.count, totals.amount
    return files


def _write_csv_by_copy(
    batch: PaymentBatch, output: Path, expected: int, channel: str | None = None
) -> str:
    """The lines file straight from PostgreSQL's ``COPY … TO STDOUT (FORMAT csv)``, written as
    Python's csv module writes it: PostgreSQL quotes exactly when csv.QUOTE_MINIMAL does (a
    comma, a quote or a line break in the field; quotes doubled), empty texts are sent as NULL
    so that they come out unquoted, and its LF record ends become CRLF. That last step is only
    right when no field holds a line break: the LFs are counted, and if there is one more than
    a record each, returns "" and the caller writes the file through the csv module. Else
    returns the file's SHA-256, hashed as it was written.

    Account numbers arrive as tokens (see _TOKEN_SQL) and are decrypted in the stream. The
    database sends a message per record: they are gathered and processed a few thousand at a
    time, whole records only, so a token is never cut between two pieces."""
    sql = f"COPY ({_select(_COPY_SELECT, channel)}) TO STDOUT (FORMAT csv)"
    digest = hashlib.sha256()
    newlines = 0
    open_token = _token_opener()

    def flush(data: bytes) -> None:
        nonlocal newlines
        newlines += data.count(b"\n")
        if b"\x01" in data:
            data = _tokens_opened(data, open_token)
        data = data.replace(b"\n", b"\r\n")
        digest.update(data)
        handle.write(data)

    with open(output, "wb") as handle, transaction.atomic(), connection.cursor() as cursor:
        _tune_for_export(cursor)
        flush((",".join(COLUMNS) + "\n").encode())
        newlines = 0
        pieces: list = []
        with cursor.cursor.copy(sql, _params(batch, channel)) as copy:
            for block in copy:
                pieces.append(block)
                if len(pieces) >= 4096:
                    data = b"".join(pieces)
                    end = data.rfind(b"\n") + 1
                    flush(data[:end])
                    pieces = [data[end:]]
        if data := b"".join(pieces):
            flush(data)
    return digest.hexdigest() if newlines == expected else ""


def _write_csv_by_copy_or_not(batch, output, expected, channel) -> str:
    try:
        return _write_csv_by_copy(batch, output, expected, channel)
    except _TokenMismatch:
        return ""  # a name holds the delimiter: the csv module writes the file


# --- XLSX -------------------------------------------------------------------------------------

AMOUNT_FORMAT = "0.00"
_STYLE_AMOUNT, _STYLE_HEADER = 1, 2

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{sheets}</Types>"""
_SHEET_TYPE = '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>"""
_WORKBOOK_SHEET = '<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>'
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheets}<Relationship Id="rId{styles}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
_SHEET_REL = '<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
# Style 1: an amount, two decimals (numFmt 2 is Excel's built-in "0.00"); style 2: a bold header.
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""
_SHEET_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="{frozen}" topLeftCell="A{first}" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><cols>{cols}</cols><sheetData>"""
_SHEET_TAIL = "</sheetData></worksheet>"


# A text cell never becomes a formula: it is an inline string (t="inlineStr"), and its text
# went through safe_cell; characters XML must escape or cannot hold are found by one search.
_TEXT_CELL = '<c t="inlineStr"><is><t xml:space="preserve">%s</t></is></c>'
_NUMBER_CELL = "<c><v>%s</v></c>"
_AMOUNT_CELL = f'<c s="{_STYLE_AMOUNT}"><v>%s</v></c>'
_NEEDS_CARE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")
_TRIGGERS = frozenset(FORMULA_TRIGGERS)


def _xml_text(value) -> str:
    """A text for an inline string: safe_cell's rule, then what XML needs (a control
    character XML cannot hold is shown as U+FFFD, as safe_xlsx_row does)."""
    if value is None:
        return ""
    text = str(value)
    if text and text[0] in _TRIGGERS:
        text = safe_cell(text)
    if _NEEDS_CARE.search(text):
        text = escape(safe_xlsx_row([text])[0])
    return text


def _row_template(width: int, amount_at: int | None, style: str = "") -> str:
    cells = [
        _AMOUNT_CELL if index == amount_at else _TEXT_CELL.replace("<c ", f"<c{style} ", 1)
        for index in range(width)
    ]
    return "".join(cells)


def _xml_cells(row: list, amount_at: int | None, style: str = "") -> str:
    """One row's cells (the summary's and the header's: a few rows): text as inline strings
    through safe_cell, counts as numbers, the amount a number with two places."""
    cells = []
    for index, value in enumerate(row):
        if value is None or value == "":
            cells.append("<c/>")
        elif index == amount_at:
            cells.append(_AMOUNT_CELL % value)
        elif isinstance(value, int):
            cells.append(_NUMBER_CELL % value)
        else:
            cells.append(_TEXT_CELL.replace("<c ", f"<c{style} ", 1) % _xml_text(value))
    return "".join(cells)


def _detail_rows(rows, amount_at: int, width: int = len(COLUMNS)) -> Iterator[str]:
    """The detail sheet's rows, a million of them: one template per row, a text cell costs a
    first-character test and one regular-expression search. Every cell but the amount is
    text (or None)."""
    template = _row_template(width, amount_at)
    text, triggers, needs_care = _xml_text, _TRIGGERS, _NEEDS_CARE.search
    for row in rows:
        cells = [
            text(value) if value is None or value[:1] in triggers or needs_care(value) else value
            for value in row
        ]
        cells[amount_at] = row[amount_at]
        yield template % tuple(cells)


def _cols(widths: list[int]) -> str:
    return "".join(
        f'<col min="{n}" max="{n}" width="{width}" customWidth="1"/>'
        for n, width in enumerate(widths, start=1)
    )


class _SheetWriter:
    """Sheets streamed into the archive, one at a time, as XML text in large writes."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.names: list[str] = []

    def sheet(self, name: str, rows, *, widths: list[int], frozen: int):
        number = len(self.names) + 1
        self.names.append(name)
        with self.archive.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out.write(_SHEET_HEAD.format(frozen=frozen, first=frozen + 1, cols=_cols(widths)))
            buffer = []
            for n, cells in enumerate(rows, start=1):
                buffer.append(f'<row r="{n}">{cells}</row>')
                if len(buffer) >= 5000:
                    out.write("".join(buffer))
                    buffer.clear()
            out.write("".join(buffer))
            out.write(_SHEET_TAIL)
            out.flush()
            out.detach()

    def finish(self) -> None:
        sheets = range(1, len(self.names) + 1)
        self.archive.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=n) for n in sheets)),
        )
        self.archive.writestr("_rels/.rels", _ROOT_RELS)
        self.archive.writestr(
            "xl/workbook.xml",
            _WORKBOOK.format(
                sheets="".join(
                    _WORKBOOK_SHEET.format(name=escape(name), n=n)
                    for n, name in zip(sheets, self.names, strict=True)
                )
            ),
        )
        self.archive.writestr(
            "xl/_rels/workbook.xml.rels",
            _WORKBOOK_RELS.format(
                sheets="".join(_SHEET_REL.format(n=n) for n in sheets), styles=len(self.names) + 1
            ),
        )
        self.archive.writestr("xl/styles.xml", _STYLES)


class _Unseekable:
    """Makes zipfile stream (data descriptors, no seeking back), so the archive is hashed as
    it is written."""

    def __init__(self, handle: _HashingWriter):
        self.handle = handle
        self.position = 0

    def write(self, data) -> int:
        self.position += len(data)
        return self.handle.write(data)

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self.handle.flush()


def write_xlsx(
    batch: PaymentBatch,
    output: Path,
    *,
    max_rows: int | None = None,
    channel: str | None = None,
    layout: str = Layout.BANK,
    totals: Totals | None = None,
) -> ExportFiles:
    """A summary sheet (汇总: the control totals) and the detail sheets (明细1, 明细2, …,
    split before Excel's row limit), each with widths and a frozen header."""
    max_rows = max_rows or MAX_SHEET_ROWS
    totals = totals or Totals(batch, channel)
    finance = layout == Layout.FINANCE
    label = _labeller(batch) if finance else None
    header = finance_headers() if finance else COLUMNS
    header_xml = _xml_cells(header, None, f' s="{_STYLE_HEADER}"')

    def summary():
        title = f"{batch.region.name} {batch.period:%Y-%m} {batch.get_kind_display()}"
        if channel:
            title += f" {PaymentChannel(channel).label}"
        yield _xml_cells([title], None)
        head, *rows = totals.rows()
        if finance:
            head = [_("项目代码"), _("津贴项目"), _("笔数"), _("金额（元）")]
        yield _xml_cells(head, None, f' s="{_STYLE_HEADER}"')
        for row in rows:
            yield _xml_cells(row, 3)

    rows = export_rows(batch, channel)
    if label is not None:
        rows = map(label, rows)
    pending = next(rows, None)

    def sheet_rows():
        nonlocal pending
        used = 1
        while pending is not None and used < max_rows:
            yield pending
            used += 1
            pending = next(rows, None)

    def detail():
        yield header_xml
        yield from _detail_rows(sheet_rows(), AMOUNT_INDEX)

    def sheets():
        yield "汇总", summary(), [16, 40, 10, 16], 2
        number = 0
        while number == 0 or pending is not None:
            number += 1
            yield f"明细{number}", detail(), COLUMN_WIDTHS, 1

    files = ExportFiles([output])
    files.sha256 = write_workbook(output, sheets())
    files.count, files.amount = totals.count, totals.amount
    return files


def write_workbook(output: Path, sheets) -> str:
    """An XLSX file of ``sheets`` — (name, rows as XML from ``header_cells`` and
    ``table_rows``, column widths, rows frozen) each, taken one at a time, so that a sheet's
    rows may decide whether another follows — streamed and hashed as written. Returns its
    SHA-256."""
    with open(output, "wb") as raw:
        hashing = _HashingWriter(raw)
        with zipfile.ZipFile(
            _Unseekable(hashing), "w", zipfile.ZIP_DEFLATED, compresslevel=1
        ) as archive:
            writer = _SheetWriter(archive)
            for name, rows, widths, frozen in sheets:
                writer.sheet(name, rows, widths=widths, frozen=frozen)
            writer.finish()
    return hashing.digest.hexdigest()


def header_cells(row: list) -> str:
    """A header row (bold) as XML cells."""
    return _xml_cells(row, None, f' s="{_STYLE_HEADER}"')


def summary_cells(row: list, amount_at: int | None = None) -> str:
    """A row of a summary (texts, counts and an amount) as XML cells, every text through
    safe_cell."""
    return _xml_cells(row, amount_at)


def table_rows(rows, amount_at: int, width: int) -> Iterator[str]:
    """Detail rows (texts, or None, and an amount's decimal text at ``amount_at``) as XML
    cells, every text through safe_cell."""
    return _detail_rows(rows, amount_at, width)
