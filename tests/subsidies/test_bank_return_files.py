"""The bank's return file is read in one encoding (UTF-8, else GB18030) or refused naming its
first row in another; a field past the csv module's limit is a refusal naming the row, not an
error of the csv module."""

import pytest
from django.core.exceptions import ValidationError

from subsidies.bank_returns import parse_bank_return

HEADER = "reference,id_number,status,bank_reference,message\n"


def test_a_gb18030_return_file_is_read():
    content = (HEADER + "PL0000000001,,failed,,账户已销户\n").encode("gb18030")
    (row,) = parse_bank_return(content, "return.csv")
    assert (row.row, row.reference, row.status, row.message) == (
        2,
        "PL0000000001",
        "failed",
        "账户已销户",
    )


def test_a_utf8_return_file_with_one_gbk_row_is_refused_naming_it():
    rows = [f"PL{n:010d},,failed,,账户已销户\n" for n in range(1, 6)]
    content = (HEADER + "".join(rows[:2])).encode("utf-8") + rows[2].encode("gbk")
    content += "".join(rows[3:]).encode("utf-8")
    with pytest.raises(ValidationError, match="第4行不是 UTF-8 编码"):
        parse_bank_return(content, "return.csv")


def test_a_field_over_128_kib_is_refused_naming_the_row():
    content = (HEADER + "PL0000000001,,paid,B1,\n" + 'PL2,,paid,"' + "x" * 140_000).encode()
    with pytest.raises(ValidationError, match="第3行起有字段超过 128 KiB"):
        parse_bank_return(content, "return.csv")


def test_row_numbers_are_the_files_lines_blank_lines_included():
    content = (HEADER + "PL0000000001,,paid,B1,\n\nPL0000000002,,paid,B2,\n").encode()
    assert [r.row for r in parse_bank_return(content, "return.csv")] == [2, 4]
