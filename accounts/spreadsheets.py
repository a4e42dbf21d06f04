"""Files exchanged with spreadsheet programs: what the project writes never runs as a formula,
and what it reads is decoded in one encoding or refused.

Writing. A spreadsheet opening a CSV or an XLSX takes a cell that starts with ``=``, ``+``,
``-`` or ``@`` (and, after a tab or a carriage return, the same) as a formula: a name typed as
``=HYPERLINK(…)`` in an import would run in finance's spreadsheet. Every cell of every file the
project writes goes through ``safe_cell``; the PostgreSQL COPY export applies the same rule in
SQL (``safe_text_sql``), both built from the constants below.

Reading. Street offices save CSV from Excel as UTF-8 or, on Chinese Windows, as GB18030 (GBK).
A file must decode as a whole in one of them: a UTF-8 file with one GBK row decodes "cleanly"
as GB18030 into mojibake for every other row, so such a file is refused, naming its first row
that is not in the file's encoding, instead of being guessed at.
"""

from __future__ import annotations

import csv
import io
import re

from django.utils.translation import gettext as _

# OWASP's list of the characters that start a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number, such as an amount: a spreadsheet reads it as that number and nothing
# else, so it is left as it is (a recovery of -12.50 stays a number the bank can read).
PLAIN_NUMBER = r"[+-]?[0-9]+(\.[0-9]+)?"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER, re.ASCII)
# What goes before a neutralised cell: spreadsheets show it, and never evaluate what follows.
PREFIX = "'"


def safe_cell(value):
    """The cell as written to a CSV or XLSX file, never a formula.

    Text that starts with ``= + - @``, a tab or a carriage return gets a leading apostrophe
    (``'=HYPERLINK(…)``, ``'+1+1``, ``'@SUM(1+1)``): the value stays readable, the spreadsheet
    shows it as text. Numbers are values, not text, and are returned unchanged: ints, Decimals,
    floats, dates and None, and text that is a plain decimal number (``-12.50``, ``+3``,
    ``-60``), which a spreadsheet can only read as that number. ``-1+1`` or ``-A1`` are not
    plain numbers and are neutralised.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return PREFIX + value


def safe_row(row) -> list:
    return [safe_cell(value) for value in row]


# Control characters an XLSX file (XML) cannot hold; openpyxl refuses to write them.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_xlsx_row(row) -> list:
    """``safe_row`` for an XLSX sheet, where a control character XML cannot hold (a name
    typed with one) is shown as U+FFFD instead of failing the whole file."""
    return [
        _NOT_IN_XML.sub("\ufffd", cell) if isinstance(cell, str) else cell for cell in safe_row(row)
    ]


def safe_text_sql(expression: str) -> str:
    """``safe_cell`` as a PostgreSQL expression over a text ``expression`` (NULL stays NULL)."""
    triggers = ", ".join(f"chr({ord(c)})" for c in FORMULA_TRIGGERS)
    return (
        f"CASE WHEN left({expression}, 1) IN ({triggers}) "
        f"AND {expression} !~ '^{PLAIN_NUMBER}$' "
        f"THEN '{PREFIX * 2}' || {expression} ELSE {expression} END"
    )


def csv_text(rows, **writer_options) -> str:
    """Rows as CSV text, every cell through ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, **writer_options)
    for row in rows:
        writer.writerow(safe_row(row))
    return buffer.getvalue()


# --- reading ----------------------------------------------------------------------------------


class SpreadsheetError(ValueError):
    """The file cannot be read as it is; the message names the row and says what to do."""


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def decode_csv(content: bytes) -> str:
    """The file's text in one encoding: UTF-8 (with or without a byte-order mark) when the
    whole file is UTF-8; else GB18030 when the whole file is GB18030 and no line of it is
    UTF-8 text. Otherwise SpreadsheetError naming the first line (1 = header) that is not in
    the encoding most of the file's lines are in.

    A line "is UTF-8 text" when it holds non-ASCII bytes and decodes as UTF-8: GB18030 would
    decode such a line too, into mojibake, so its presence in a file that is not all UTF-8
    means two encodings in one file. (Lines are split at LF, which is never part of a
    multi-byte character in either encoding.)"""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = content.split(b"\n")
    not_utf8 = [n for n, line in enumerate(lines, start=1) if not _decodes(line, "utf-8")]
    utf8_text = [
        n for n, line in enumerate(lines, start=1) if not line.isascii() and _decodes(line, "utf-8")
    ]
    if utf8_text:
        if len(utf8_text) >= len(not_utf8):
            message = _(
                "第%(row)s行不是 UTF-8 编码，而文件其余各行是 UTF-8：一个文件只能用一种编码，"
                "请将整个文件另存为 UTF-8 编码的 CSV 后重新上传。"
            )
            bad = not_utf8[0]
        else:
            message = _(
                "第%(row)s行是 UTF-8 编码，而文件其余各行是 GB18030（GBK）：一个文件只能用一种"
                "编码，请将整个文件另存为 UTF-8 编码的 CSV 后重新上传。"
            )
            bad = utf8_text[0]
        raise SpreadsheetError(message % {"row": bad})
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as error:
        bad = content.count(b"\n", 0, error.start) + 1
        raise SpreadsheetError(
            _(
                "第%(row)s行既不是 UTF-8 也不是 GB18030（GBK）编码："
                "请将整个文件另存为 UTF-8 编码的 CSV 后重新上传。"
            )
            % {"row": bad}
        ) from None


def read_csv(content: bytes) -> list[list[str]]:
    """The file's records (lists of fields), decoded by ``decode_csv``. A field longer than
    the csv module's limit (128 KiB) is nearly always a stray quote that swallowed the lines
    after it, so the file is refused, naming the line where that record starts, rather than
    reading on with those lines lost."""
    reader = csv.reader(io.StringIO(decode_csv(content)))
    records = []
    while True:
        start = reader.line_num + 1
        try:
            records.append(next(reader))
        except StopIteration:
            return records
        except csv.Error as error:
            limit = csv.field_size_limit()
            if "field limit" in str(error):
                raise SpreadsheetError(
                    _(
                        "第%(row)s行起有字段超过 %(limit)s KiB：多半是该行的引号未配对，"
                        "吞掉了其后的行。请检查该行后重新上传。"
                    )
                    % {"row": start, "limit": limit // 1024}
                ) from None
            raise SpreadsheetError(
                _("第%(row)s行不是有效的 CSV（%(error)s）。") % {"row": start, "error": error}
            ) from None
