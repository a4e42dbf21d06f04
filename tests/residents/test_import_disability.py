"""The optional disability-certificate columns of import_elders (docs/policy.md §1)."""

import csv
import io

import pytest
from django.core.management import call_command

from residents.id_numbers import with_check_character
from residents.importing import COLUMNS, DISABILITY_COLUMNS
from residents.models import Elder

A = with_check_character("33010619440312001")
B = with_check_character("33010619500505004")
C = with_check_character("33010619500505012")


def write(tmp_path, header, lines, name="elders.csv"):
    path = tmp_path / name
    path.write_text("\n".join([",".join(header), *lines]) + "\n", encoding="utf-8")
    return path


def run(path, *extra):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_elders", str(path), *extra, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines(), err.getvalue()


def certificate(number):
    elder = Elder.objects.get(id_number=number)
    return elder.disability_category, elder.disability_grade


def test_codes_and_labels_are_read_and_an_absent_column_changes_nothing(zhejiang, tmp_path):
    header = COLUMNS + DISABILITY_COLUMNS
    path = write(
        tmp_path,
        header,
        [
            f"{A},张三,330106,,,,,,精神,三级",
            f"{B},李四,330106,,,,,,physical,1",
            f"{C},王五,330106,,,,,,,",
        ],
    )
    lines, _ = run(path)
    assert lines[-1] == "created 3, updated 0, rejected 0"
    assert certificate(A) == ("mental", 3)
    assert certificate(B) == ("physical", 1)
    assert certificate(C) == ("", None)
    # The same elders in a file without the columns: the certificates stay.
    lines, _ = run(write(tmp_path, COLUMNS, [f"{A},张三,330106,,,,,"], name="plain.csv"))
    assert lines[-1] == "created 0, updated 0, rejected 0"
    assert certificate(A) == ("mental", 3)
    # With the columns, a change is an update.
    lines, _ = run(write(tmp_path, header, [f"{A},张三,330106,,,,,,精神残疾,4级"], name="u.csv"))
    assert lines[-1] == "created 0, updated 1, rejected 0"
    assert certificate(A) == ("mental", 4)


@pytest.mark.parametrize(
    "cells, field",
    [
        ("vision,5", "disability_grade"),
        ("blind,1", "disability_category"),
        ("vision,", "disability_grade"),
        (",2", "disability_category"),
    ],
)
def test_a_bad_certificate_is_refused_naming_row_and_field(zhejiang, tmp_path, cells, field):
    header = COLUMNS + DISABILITY_COLUMNS
    path = write(tmp_path, header, [f"{B},李四,330106,,,,,,,", f"{A},张三,330106,,,,,,{cells}"])
    errors_file = tmp_path / "errors.csv"
    lines, _ = run(path, "--errors", str(errors_file))
    assert lines[-1] == "created 1, updated 0, rejected 1"
    rows = list(csv.DictReader(errors_file.open(encoding="utf-8")))
    assert [(r["row"], r["field"]) for r in rows] == [("3", field)]
    assert not Elder.objects.filter(id_number=A).exists()
