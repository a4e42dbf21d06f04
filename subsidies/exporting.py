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

import binascii
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from cryptography.exceptions import InvalidTag
from django.db import connection, transaction
from django.db.models import Case, Count, F, Min, Q, Sum, Value, When
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
from subsidies.models import Insurer, PaymentBatch, Scheme, line_reference, money
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
_PAYEE_KINDS = frozenset((b"insurer", b"elder", b"caregiver", b"facility"))
_HEX_DIGITS = b"0123456789abcdef"
_TOKEN = re.compile(rb"\x01(?:insurer|elder|caregiver|facility):[0-9]+:[0-9a-f]+\x01")

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

# For COPY: every cell as the csv path writes it, through safe_cell's rule in SQL, and empty
# texts as NULL (PostgreSQL quotes an empty string, the csv module does not; both leave
# NULL/None unquoted and empty).
_COPY_SELECT = "SELECT " + ",\n       ".join(
    f"NULLIF({safe_text_sql(column)}, '')" for column in _COLUMNS_SQL
)
_COPY_SQL = _COPY_SELECT + _FROM_SQL + _ORDER_SQL


def _copy_cells(columns: list[str], key: str) -> list[str]:
    return [f"NULLIF({safe_text_sql(column)}, '')" for column in columns]


# An insurer's premiums are one transfer: the bank's file has one row per insurer (its
# credit code, name and account, the sum of the premiums and how many insured elders' lines
# it pays), the insured list per elder is the separate export (subsidies.insured_lists). The
# row's reference names the batch and the insurer (insurer_reference); the bank's return
# naming it settles all the insurer's lines of the batch.
def insurer_reference(batch_pk: int, insurer_pk: int) -> str:
    return f"PI{batch_pk:08d}-{insurer_pk:06d}"


def insured_kind(count: int) -> str:
    """The ``kind`` cell of an insurer's row: ``insured:<lines folded>``."""
    return f"insured:{count}"


def insured_label(count) -> str:
    """The same in the finance layout."""
    return _("保费（参保 %(count)s 人次）") % {"count": count}


def _sql_text(text: str) -> str:
    """A literal of our own text (a translation) in the export's SQL, which has parameters."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _distinct_joined(column: str) -> str:
    """An aggregate: the distinct values of ``column`` joined by ``|`` in code-point order
    (as Python's sorted, which the ORM path uses)."""
    return (
        f"array_to_string(ARRAY(SELECT v FROM unnest(array_agg({column})) v GROUP BY v "
        "ORDER BY v COLLATE \"C\"), '|')"
    )


def _fold_columns(batch: PaymentBatch) -> list[str]:
    """COLUMNS of an insurer's row, over its lines grouped by _FOLD_GROUP_SQL (the period is
    the batch's month, the transfer's)."""
    return [
        f"'PI{int(batch.pk):08d}-' || CASE WHEN l.insurer_id < 1000000 "
        "THEN lpad(l.insurer_id::text, 6, '0') ELSE l.insurer_id::text END",
        "i.uscc",
        "i.name",
        _distinct_joined("s.code"),
        f"'{batch.period:%Y-%m}'",
        "sum(l.amount)::text",
        "'insured:' || count(*)",
        "ai.channel",
        "ai.bank",
        "CASE WHEN ai.id IS NULL THEN NULL ELSE chr(1) || 'insurer:' || l.insurer_id || ':' || "
        "encode(ai.account_number_encrypted, 'hex') || chr(1) END",
        "ai.holder_name",
    ]


_FOLD_GROUP_SQL = "GROUP BY l.insurer_id, i.id, ai.id\n"


class _Plan:
    """What one export reads: the batch's lines to pay, of one channel or all. A line that a
    file already carried in another channel than its account's now (changed or removed since,
    subsidies.selectors.carried_channels) stays in the channel of that file, so that every
    file of the batch carries the same lines again and the bank's return keeps matching.
    ``fold``: the batch pays insurers, whose lines are folded into one row each."""

    def __init__(self, batch: PaymentBatch, channel: str | None = None):
        from subsidies.selectors import carried_channels

        self.batch, self.channel = batch, channel
        self.carried_in: list[int] = []
        self.carried_out: list[int] = []
        if channel:
            for pk, carried in carried_channels(batch).items():
                (self.carried_in if carried == channel else self.carried_out).append(pk)
        self.fold = live_lines(batch).filter(insurer__isnull=False).exists()

    @property
    def filter_sql(self) -> str:
        if not self.channel:
            return ""
        if not (self.carried_in or self.carried_out):
            return _CHANNEL_FILTER_SQL
        return f"AND (({_CHANNEL_SQL} = %s AND NOT l.id = ANY(%s)) OR l.id = ANY(%s))\n"

    @property
    def params(self) -> list:
        params = [self.batch.pk, LineStatus.CANCELLED.value]
        if self.channel:
            params.append(self.channel)
            if self.carried_in or self.carried_out:
                params += [self.carried_out, self.carried_in]
        return params

    def lines(self):
        """The same lines through the ORM."""
        lines = live_lines(self.batch)
        if self.channel:
            chosen = Q(pay_channel=self.channel) & ~Q(pk__in=self.carried_out)
            lines = lines.annotate(pay_channel=line_channel()).filter(
                chosen | Q(pk__in=self.carried_in)
            )
        return lines


def _select(
    plan: _Plan,
    render=None,
    *,
    columns: list[str] | None = None,
    fold_columns: list[str] | None = None,
    column_params: list | None = None,
    fold_params: list | None = None,
) -> tuple[str, list]:
    """The export's SELECT and its parameters, rows in line order. ``render(columns, key)``
    makes the select list of the columns' expressions (``key``: the row's order). Where the
    batch pays insurers, the lines of people and facilities and one row per insurer are read
    as one UNION, ordered by line (an insurer's row at its first line)."""
    render = render or (lambda cols, key: list(cols))
    columns = columns or _COLUMNS_SQL
    if not plan.fold:
        select = "SELECT " + ", ".join(render(columns, "l.id"))
        sql = select + _FROM_SQL + plan.filter_sql + _ORDER_SQL
        return sql, [*(column_params or []), *plan.params]
    fold_columns = fold_columns or _fold_columns(plan.batch)

    def aliased(cols):
        return ", ".join(f"{c} AS c{at}" for at, c in enumerate(cols))

    people = (
        f"SELECT l.id AS k, {aliased(columns)}"
        + _FROM_SQL
        + plan.filter_sql
        + "AND l.insurer_id IS NULL\n"
    )
    insurers = (
        f"SELECT min(l.id) AS k, {aliased(fold_columns)}"
        + _FROM_SQL
        + plan.filter_sql
        + "AND l.insurer_id IS NOT NULL\n"
        + _FOLD_GROUP_SQL
    )
    outer = render([f"u.c{at}" for at in range(len(columns))], "u.k")
    sql = f"SELECT {', '.join(outer)} FROM ({people} UNION ALL {insurers}) u ORDER BY u.k"
    return sql, [*(column_params or []), *plan.params, *(fold_params or []), *plan.params]


def _tune_for_export(cursor) -> None:
    """For this transaction only: enough memory to hash the payees and sort a million lines
    without spilling to disk (the default 4 MB doubles the time of a million-line export),
    and no JIT compilation, which costs more than it saves on this one scan."""
    cursor.execute("SET LOCAL work_mem = '128MB'")
    cursor.execute("SET LOCAL jit = off")


# A payee's account is on each of their lines (several schemes, arrears of several months):
# each distinct token is decrypted once per export. Bounded, so memory stays flat.
_OPENED_LIMIT = 200_000


class _TokenMismatch(ValueError):
    """A \\x01 that does not delimit a token (a name typed with one): not the COPY path's."""


class _Tokens:
    """The account numbers of one export's tokens (the bytes between two \\x01), each
    distinct token decrypted once.

    A token is ``<kind>:<id>:<hex>``, and ``<kind>:<id>`` is the ciphertext's associated data
    (account_crypto.payee_ref) as it stands: a new token costs a split, a hex decoding in C
    and the decryption, a few microseconds for each of a batch's hundred thousand payees.
    Anything else between two \\x01 (a name typed with one), or a token that does not open,
    is a _TokenMismatch."""

    def __init__(self):
        self.opened: dict[bytes, bytes] = {}
        self.first = account_crypto.ciphers()[0]
        self.decrypt = account_crypto.decrypter()

    def _open_new(self, new) -> None:
        opened, first, unhex = self.opened, self.first, binascii.unhexlify
        kinds, nonce_bytes = _PAYEE_KINDS, account_crypto.NONCE_BYTES
        for token in new:
            ref, colon, body = token.rpartition(b":")
            kind, _colon, pk = ref.partition(b":")
            if not (colon and kind in kinds and pk.isdigit() and body) or body.translate(
                None, _HEX_DIGITS
            ):
                raise _TokenMismatch(token[:40])
            try:
                stored = unhex(body)
            except (binascii.Error, ValueError):
                raise _TokenMismatch(token[:40]) from None
            try:
                opened[token] = first.decrypt(stored[:nonce_bytes], stored[nonce_bytes:], ref)
            except (InvalidTag, ValueError):
                opened[token] = self._open_otherwise(token, stored, ref)

    def _open_otherwise(self, token: bytes, stored: bytes, ref: bytes) -> bytes:
        """A ciphertext under an older key; else not trusted as a token at all: the csv
        module's path then writes the file, and names an account that cannot be opened."""
        try:
            return self.decrypt(stored, ref).encode()
        except (account_crypto.UndecryptableAccount, ValueError):
            raise _TokenMismatch(token[:40]) from None

    def open_all(self, tokens: list[bytes]) -> list[bytes]:
        """The account number of each token, in order: the new ones are decrypted, once each;
        the others are a dictionary look-up done in C, no Python call per line."""
        opened = self.opened
        try:
            return list(map(opened.__getitem__, tokens))
        except KeyError:
            pass  # some are new
        new = set(tokens).difference(opened)
        if new and len(opened) + len(new) > _OPENED_LIMIT:
            opened.clear()
            new = set(tokens)
        self._open_new(new)
        return list(map(opened.__getitem__, tokens))


def _tokens_opened(data: bytes, tokens: _Tokens) -> bytes:
    """Records with their tokens replaced by the account numbers: split at the delimiters,
    every second piece is a token."""
    pieces = data.split(b"\x01")
    if len(pieces) % 2 == 0:
        raise _TokenMismatch(b"unpaired")
    pieces[1::2] = tokens.open_all(pieces[1::2])
    return b"".join(pieces)


def _account_opener():
    """The same for one cell of a row read through the cursor."""
    tokens = _Tokens()

    def open_cell(cell):
        if cell is None:
            return None
        match = _TOKEN.fullmatch(cell.encode())
        if match is None:
            return cell
        token = match.group(0)[1:-1]
        try:
            return tokens.open_all([token])[0].decode()
        except _TokenMismatch:  # the SELECT's own token: an account that cannot be opened
            ref, _colon, body = token.rpartition(b":")
            return account_crypto.decrypt(binascii.unhexlify(body), ref)

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
            cursor.execute(*_select(_Plan(batch, channel)))
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
    return _Plan(batch, channel).lines()


def _export_rows_orm(batch: PaymentBatch, channel: str | None = None) -> Iterator[list]:
    """The rows through the ORM: people's and facilities' lines one by one, each insurer's
    premiums as one row at its first line (as _select reads them)."""
    plan = _Plan(batch, channel)
    lines = plan.lines()
    if not plan.fold:
        yield from _line_rows_orm(lines)
        return
    folded = iter(_insurer_rows_orm(lines.filter(insurer__isnull=False), batch))
    pending = next(folded, None)
    for row in _line_rows_orm(lines.filter(insurer__isnull=True), with_key=True):
        while pending is not None and pending[0] < row[0]:
            yield pending[1]
            pending = next(folded, None)
        yield row[1]
    while pending is not None:
        yield pending[1]
        pending = next(folded, None)


def _insurer_rows_orm(lines, batch: PaymentBatch) -> list[tuple[int, list]]:
    """(first line, row) of each insurer paid by ``lines``, in the order of their first line."""
    sums = {
        r["insurer_id"]: r
        for r in lines.order_by()
        .values("insurer_id")
        .annotate(first=Min("id"), count=Count("id"), amount=Sum("amount"))
    }
    schemes: dict[int, set[str]] = {}
    for insurer_id, code in lines.order_by().values_list("insurer_id", "scheme__code").distinct():
        schemes.setdefault(insurer_id, set()).add(code)
    insurers = Insurer.objects.filter(pk__in=sums).select_related("payee_account")
    rows = []
    for insurer in insurers:
        found = sums[insurer.pk]
        account = getattr(insurer, "payee_account", None)
        number = None
        if account is not None:
            number = account_crypto.decrypt(
                account.account_number_encrypted, account_crypto.payee_ref("insurer", insurer.pk)
            )
        row = [
            insurer_reference(batch.pk, insurer.pk),
            insurer.uscc,
            insurer.name,
            "|".join(sorted(schemes[insurer.pk])),
            f"{batch.period:%Y-%m}",
            f"{money(found['amount'])}",
            insured_kind(found["count"]),
            account.channel if account is not None else None,
            account.bank if account is not None else None,
            number,
            account.holder_name if account is not None else None,
        ]
        rows.append((found["first"], row))
    return sorted(rows, key=lambda item: item[0])


def _line_rows_orm(lines, *, with_key: bool = False) -> Iterator:
    rows = (
        lines.order_by("id")
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
        row = [
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
        yield (pk, row) if with_key else row


# --- totals -----------------------------------------------------------------------------------


class Totals:
    """Per scheme: count and amount of the exported lines, computed once per export; and
    ``records``, the file's rows (one per line, but one per insurer for its premiums)."""

    def __init__(self, batch: PaymentBatch, channel: str | None = None):
        lines = lines_to_export(batch, channel)
        rows = (
            lines.values("scheme__code", "scheme__label")
            .annotate(
                count=Count("id"),
                amount=Sum("amount"),
                people=Count("id", filter=Q(insurer__isnull=True)),
            )
            .order_by("scheme__code")
        )
        self.schemes = []
        people = 0
        for r in rows:
            self.schemes.append(
                (r["scheme__code"], r["scheme__label"], r["count"], money(r["amount"] or 0))
            )
            people += r["people"]
        self.count = sum(row[2] for row in self.schemes)
        # The grand total is the sum of the schemes' (amounts have two places: the sum is exact).
        self.amount = money(sum((row[3] for row in self.schemes), Decimal("0")))
        self.records = self.count
        if self.count != people:  # premiums paid to insurers: one row per insurer
            self.records = (
                people + lines.filter(insurer__isnull=False).values("insurer").distinct().count()
            )

    def rows(self) -> list[list]:
        rows = [["scheme", "label", "count", "amount"]]
        rows += [[code, label, count, f"{amount}"] for code, label, count, amount in self.schemes]
        rows.append(["TOTAL", "合计", self.count, f"{self.amount}"])
        if self.records != self.count:
            rows.append(
                ["ROWS", "文件行数（保险公司保费每家一行）", self.records, f"{self.amount}"]
            )
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
        code = row[scheme_at]
        row[scheme_at] = "|".join(sorted(schemes.get(c, c) for c in code.split("|")))
        kind = row[kind_at]
        if kind.startswith("insured:"):  # an insurer's row (_fold_columns)
            row[kind_at] = insured_label(kind.partition(":")[2])
        else:
            row[kind_at] = str(kinds.get(kind, kind))
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
    digest = None
    if layout == Layout.BANK and connection.vendor == "postgresql":
        digest, totals = _write_csv_by_copy_or_not(batch, output, channel, totals)
    totals = totals or Totals(batch, channel)
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


def _copy_records(cursor, sql: str, params: list) -> Iterator[bytes]:
    """The output of ``COPY (…) TO STDOUT`` in chunks of about a megabyte of whole records:
    the database sends a message per record, each a whole record, gathered here so that what
    follows works on large pieces and a token is never cut between two of them. They are
    copied into one buffer as they come (keeping each message's own buffer until a chunk is
    joined costs more than the rest of the export)."""
    chunk = bytearray()
    with cursor.cursor.copy(sql, params) as copy:
        for block in copy:
            chunk += block
            if len(chunk) >= _CHUNK_BYTES:
                yield bytes(chunk)
                chunk.clear()
    if chunk:
        yield bytes(chunk)


_CHUNK_BYTES = 1 << 20


@contextmanager
def _export_transaction():
    """The export's reads in one transaction. On PostgreSQL, when the export opens it, a
    REPEATABLE READ one whose snapshot is exported: yields the snapshot's name, so that a second
    connection reads the same lines (else None)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        snapshot = None
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
        yield snapshot


_SNAPSHOT_NAME = re.compile(r"[0-9A-F]+(-[0-9A-F]+)*")


def _totals_beside(batch: PaymentBatch, channel: str | None, snapshot: str) -> Future:
    """The Totals, read on a connection of their own in the snapshot ``snapshot`` while this
    one streams the lines: on another core, the aggregate over the batch costs the export no
    time, and counts exactly the lines the file holds."""
    if not _SNAPSHOT_NAME.fullmatch(snapshot):
        raise ValueError(f"not a snapshot name: {snapshot!r}")

    def read() -> Totals:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    # One process: the COPY's own has the other core.
                    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                return Totals(batch, channel)
        finally:
            connection.close()  # this thread's own connection

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(read)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


def _write_csv_by_copy(
    batch: PaymentBatch,
    output: Path,
    channel: str | None = None,
    totals: Totals | None = None,
) -> tuple[str, Totals]:
    """The lines file straight from PostgreSQL's ``COPY … TO STDOUT (FORMAT csv)``, written as
    Python's csv module writes it: PostgreSQL quotes exactly when csv.QUOTE_MINIMAL does (a
    comma, a quote or a line break in the field; quotes doubled), empty texts are sent as NULL
    so that they come out unquoted, and its LF record ends become CRLF. That last step is only
    right when no field holds a line break: the LFs are counted, and if there is one more than
    a record each, the digest returned is "" and the caller writes the file through the csv
    module. Else it is the file's SHA-256, hashed as it was written. Returns it with the
    totals of the lines (read beside the COPY when not given).

    Account numbers arrive as tokens (see _TOKEN_SQL) and are decrypted in the stream."""
    select, params = _select(_Plan(batch, channel), _copy_cells)
    sql = f"COPY ({select}) TO STDOUT (FORMAT csv)"
    digest = hashlib.sha256()
    newlines = 0
    tokens = _Tokens()
    with open(output, "wb") as handle, _export_transaction() as snapshot:
        pending = None
        if totals is None:
            if snapshot:
                pending = _totals_beside(batch, channel, snapshot)
            else:
                totals = Totals(batch, channel)
        try:
            with connection.cursor() as cursor:
                _tune_for_export(cursor)
                header = (",".join(COLUMNS) + "\r\n").encode()
                digest.update(header)
                handle.write(header)
                for data in _copy_records(cursor, sql, params):
                    newlines += data.count(b"\n")
                    if b"\x01" in data:
                        data = _tokens_opened(data, tokens)
                    data = data.replace(b"\n", b"\r\n")
                    digest.update(data)
                    handle.write(data)
        finally:
            if pending is not None:
                totals = pending.result()
    return (digest.hexdigest() if newlines == totals.records else ""), totals


def _write_csv_by_copy_or_not(batch, output, channel, totals) -> tuple[str, Totals | None]:
    try:
        return _write_csv_by_copy(batch, output, channel, totals)
    except _TokenMismatch:
        return "", totals  # a name holds the delimiter: the csv module writes the file


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


class _XmlRows(bytes):
    """Whole ``<row>`` elements of a sheet, numbered, as UTF-8: ``count`` rows."""

    count: int = 0


class _CopyUnfit(ValueError):
    """A text holds one of the separators of the COPY path's records: the rows are written
    through export_rows instead."""


# The detail rows straight from PostgreSQL (write_xlsx): one COPY record per line, its texts
# (through safe_cell's rule in SQL) joined by \x02, the amount between two \x03, the row's
# number before \x04; turned into SpreadsheetML by a few replacements over thousands of rows
# at a time, so that no Python runs per row.
_FIELD, _NUMBER, _ROW = "\x02", "\x03", "\x04"
_ROW_OPEN = b'<row r="'
_TEXT_OPEN = b'<c t="inlineStr"><is><t xml:space="preserve">'
_TEXT_CLOSE = b"</t></is></c>"
_XML_MARKUP = (
    (b"&", b"&amp;"),
    (b"<", b"&lt;"),
    (b">", b"&gt;"),
    ((_FIELD + _NUMBER).encode(), _TEXT_CLOSE + f'<c s="{_STYLE_AMOUNT}"><v>'.encode()),
    ((_NUMBER + _FIELD).encode(), b"</v></c>" + _TEXT_OPEN),
    (_FIELD.encode(), _TEXT_CLOSE + _TEXT_OPEN),
    (_ROW.encode(), b'">' + _TEXT_OPEN),
    (b"\n", _TEXT_CLOSE + b"</row>" + _ROW_OPEN),
)
# COPY's text format writes these characters of a field as a backslash and a letter.
_COPY_ESCAPED = re.compile(rb"\\(.)", re.DOTALL)
_COPY_ESCAPES = {
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}
_NOT_IN_XML = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The bytes XML cannot hold, and the line feed: each record has len(COLUMNS) - 1 field
# separators, two around the amount, one after the row number and a line feed, and no other
# unless a text holds one.
_UNFIT = bytes([*range(0x00, 0x09), 0x0A, 0x0B, 0x0C, *range(0x0E, 0x20)])


# The texts people type (names, banks, ID numbers and codes, scheme codes and labels) go
# through safe_cell's rule; the others are made by the SELECT itself (a reference, a month, an
# amount, a kind or channel, an account number's digits).
_TYPED = {COLUMNS.index(c) for c in ("id_number", "name", "scheme", "bank", "account_holder")}


def _finance_columns(columns: list[str], scheme_label: str, kind_default: str) -> tuple:
    """The columns as the finance layout names them (as _labeller does): the scheme's label
    (``scheme_label``), kind and channel by name; with their CASEs' parameters."""
    columns = list(columns)
    params: list = []
    scheme_at, kind_at, channel_at = (COLUMNS.index(c) for c in ("scheme", "kind", "channel"))
    columns[scheme_at] = scheme_label
    for at, pairs in ((kind_at, LineKind.choices), (channel_at, PaymentChannel.choices)):
        fallback = kind_default if at == kind_at else f"COALESCE({columns[at]}, '')"
        columns[at] = (
            f"CASE {columns[at]} "
            + " ".join("WHEN %s THEN %s" for _pair in pairs)
            + f" ELSE {fallback} END"
        )
        params += [str(item) for pair in pairs for item in pair]
    return columns, params


def _xlsx_select(plan: _Plan, finance: bool, per_sheet: int) -> tuple[str, list]:
    """The COPY path's SELECT of the detail rows and its parameters; the finance layout names
    the scheme, kind and channel as _labeller does. The columns are computed once, in order,
    below a fence (OFFSET 0), and formatted above it."""
    columns, fold_columns = list(_COLUMNS_SQL), None
    column_params: list = []
    fold_params: list = []
    kind_at = COLUMNS.index("kind")
    if finance:
        columns, column_params = _finance_columns(columns, "s.label", columns[kind_at])
        if plan.fold:
            prefix, _middle, suffix = insured_label("\x00").partition("\x00")
            fold_columns, fold_params = _finance_columns(
                _fold_columns(plan.batch),
                _distinct_joined("s.label"),
                f"{_sql_text(prefix)} || count(*) || {_sql_text(suffix)}",
            )
    inner, params = _select(
        plan,
        lambda cols, key: [f"{key} AS id", *(f"{c} AS c{at}" for at, c in enumerate(cols))],
        columns=columns,
        fold_columns=fold_columns,
        column_params=column_params,
        fold_params=fold_params,
    )
    fields = []
    for at in range(len(columns)):
        if at == AMOUNT_INDEX:
            fields.append(f"'{_NUMBER}' || q.c{at} || '{_NUMBER}'")
        elif at in _TYPED:
            fields.append(f"COALESCE({safe_text_sql(f'q.c{at}')}, '')")
        else:
            fields.append(f"COALESCE(q.c{at}, '')")
    number = f"mod(row_number() OVER (ORDER BY q.id) - 1, {int(per_sheet)}) + 2"
    record = f"{number} || '{_ROW}' || " + f" || '{_FIELD}' || ".join(fields)
    return f"SELECT {record} FROM ({inner} OFFSET 0) q ORDER BY q.id", params


def _xlsx_rows(raw: bytes, rows: int, tokens: _Tokens) -> _XmlRows:
    """``rows`` COPY records of _xlsx_select as SpreadsheetML rows."""
    if b"\x01" in raw:
        raw = _tokens_opened(raw, tokens)
    if (
        raw.count(_FIELD.encode()) != rows * (len(COLUMNS) - 1)
        or raw.count(_NUMBER.encode()) != rows * 2
        or raw.count(_ROW.encode()) != rows
    ):
        raise _CopyUnfit
    # A text's control characters (rare) are found in C: deleting ours changes the length.
    unfit = len(raw.translate(None, _UNFIT)) != len(raw) - rows * (len(COLUMNS) + 3)
    for plain, markup in _XML_MARKUP:
        if plain in raw:
            raw = raw.replace(plain, markup)
    if b"\\" in raw:
        raw = _COPY_ESCAPED.sub(lambda match: _COPY_ESCAPES[match.group(1)], raw)
        unfit = True  # an escape may stand for one
    if unfit:
        raw = _NOT_IN_XML.sub("\ufffd".encode(), raw)
    xml = _XmlRows(_ROW_OPEN + raw[: -len(_ROW_OPEN)])
    xml.count = rows
    return xml


def _after_records(raw: bytes, count: int) -> int:
    """The offset just past the first ``count`` records of ``raw``."""
    end = 0
    for _record in range(count):
        end = raw.index(b"\n", end) + 1
    return end


def _xlsx_copy_rows(
    batch: PaymentBatch, channel: str | None, finance: bool, per_sheet: int
) -> Iterator[_XmlRows]:
    """The detail rows from PostgreSQL's COPY, numbered sheet by sheet (``per_sheet`` rows
    each); no piece straddles two sheets."""
    sql, params = _xlsx_select(_Plan(batch, channel), finance, per_sheet)
    tokens = _Tokens()
    used = 0
    with transaction.atomic(), connection.cursor() as cursor:
        _tune_for_export(cursor)
        for raw in _copy_records(cursor, f"COPY ({sql}) TO STDOUT", params):
            while raw:
                rows = raw.count(b"\n")
                if used + rows > per_sheet:
                    rows = per_sheet - used
                    cut = _after_records(raw, rows)
                    piece, raw = raw[:cut], raw[cut:]
                else:
                    piece, raw = raw, b""
                yield _xlsx_rows(piece, rows, tokens)
                used = (used + rows) % per_sheet


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
            buffer, n = [], 0
            for cells in rows:
                if isinstance(cells, _XmlRows):  # whole rows, already numbered
                    out.write("".join(buffer))
                    buffer.clear()
                    out.flush()
                    raw.write(cells)
                    n += cells.count
                    continue
                n += 1
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

    # Read before the rows: the COPY path's rows hold the connection until the last one.
    summary_rows = list(summary())

    def write(pieces) -> str:
        """The workbook, its detail rows from ``pieces``: a row's cells (str) or whole rows
        (_XmlRows, never across two sheets)."""
        pending = next(pieces, None)

        def sheet_rows():
            nonlocal pending
            used = 1
            while pending is not None and used < max_rows:
                yield pending
                used += pending.count if isinstance(pending, _XmlRows) else 1
                pending = next(pieces, None)

        def detail():
            yield header_xml
            yield from sheet_rows()

        def sheets():
            yield "汇总", summary_rows, [16, 40, 10, 16], 2
            number = 0
            while number == 0 or pending is not None:
                number += 1
                yield f"明细{number}", detail(), COLUMN_WIDTHS, 1

        return write_workbook(output, sheets())

    files = ExportFiles([output])
    if connection.vendor == "postgresql":
        try:
            files.sha256 = write(_xlsx_copy_rows(batch, channel, finance, max_rows - 1))
        except (_CopyUnfit, _TokenMismatch):
            files.sha256 = ""  # a text holds a separator: written through export_rows
    if not files.sha256:
        rows = export_rows(batch, channel)
        if label is not None:
            rows = map(label, rows)
        files.sha256 = write(_detail_rows(rows, AMOUNT_INDEX))
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
