"""What the elder import reads: one encoding per CSV file (a UTF-8 file with one GBK row is
refused naming that row, never decoded as GB18030 into mojibake), and a field past 128 KiB is a
refusal naming the row, not a crash of the csv module."""

import io

import pytest
from django.core.management import CommandError, call_command

from residents.id_numbers import with_check_character
from residents.importing import COLUMNS, ImportFileError, import_elders
from residents.models import Elder

HEADER = ",".join(COLUMNS) + "\n"


def _row(n: int, name: str) -> str:
    return f"{with_check_character(f'33010619400101{n:03d}')},{name},330106,,,,,\n"


def test_a_utf8_file_with_one_gbk_row_is_refused_naming_it_and_nothing_is_written(
    zhejiang, tmp_path
):
    names = ["张三", "李四"] * 8
    content = (HEADER + "".join(_row(n, names[n]) for n in range(9))).encode("utf-8")
    content += _row(9, "王五").encode("gbk")
    content += "".join(_row(n, names[n]) for n in range(10, 16)).encode("utf-8")
    path = tmp_path / "elders.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="第11行不是 UTF-8 编码"):
        call_command("import_elders", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Elder.objects.exists()


def test_a_whole_gb18030_file_is_still_read(zhejiang):
    content = (HEADER + _row(1, "张三") + _row(2, "李四")).encode("gb18030")
    plan = import_elders(content, "elders.csv")
    assert plan.summary == "created 2, updated 0, rejected 0"
    assert set(Elder.objects.values_list("name", flat=True)) == {"张三", "李四"}


def test_a_field_over_128_kib_is_refused_naming_the_row(zhejiang):
    content = (HEADER + _row(1, "张三") + f'{_row(2, "李四")[:-1]},"' + "x" * 200_000).encode()
    with pytest.raises(ImportFileError, match="第3行起有字段超过 128 KiB"):
        import_elders(content, "elders.csv")
    assert not Elder.objects.exists()
