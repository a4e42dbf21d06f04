import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from residents import services
from residents.id_numbers import with_check_character
from residents.importing import COLUMNS
from residents.models import Elder, ElderCategory

HEADER = ",".join(COLUMNS)
A = with_check_character("33010619440312001")  # born 1944 under Xihu's 1983 code
B = with_check_character("33010319380101002")  # 330103, abolished in 2021
C = with_check_character("33010619500505004")


def write(tmp_path, lines, name="elders.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def run(path, *extra):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_elders", str(path), *extra, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines(), err.getvalue()


@pytest.fixture
def good_file(zhejiang, tmp_path):
    return write(
        tmp_path,
        [
            f"{A},张三,330106,330106001001,13800000001,living_alone|veteran,resident,",
            f"{B.lower()[:-1] + B[-1].lower()} ,李四,330106001,,0571-87654321,,employee,",
        ],
    )


def test_import_creates_elders_with_sex_and_birth_date_from_the_id_number(good_file):
    lines, _ = run(good_file)
    assert lines[-1] == "created 2, updated 0, rejected 0"
    zhang = Elder.objects.get(id_number=A)
    assert (zhang.sex, zhang.birth_date) == ("M", datetime.date(1944, 3, 12))
    assert zhang.residence_region.code == "330106001001"
    assert set(zhang.categories.values_list("category", flat=True)) == {"living_alone", "veteran"}
    assert Elder.objects.get(id_number=B).pension_type == "employee"
    assert Elder.history.count() == 2


def test_importing_the_same_file_again_creates_nothing(good_file):
    run(good_file)
    lines, _ = run(good_file)
    assert lines[-1] == "created 0, updated 0, rejected 0"
    assert Elder.objects.count() == 2
    assert ElderCategory.objects.count() == 2


def test_a_changed_row_updates_the_elder_matched_by_id_number(good_file, tmp_path):
    run(good_file)
    changed = write(
        tmp_path, [f"{A},张三丰,330106,330106001002,13800000009,living_alone|empty_nest,none,"]
    )
    lines, _ = run(changed)
    assert lines[-1] == "created 0, updated 1, rejected 0"
    zhang = Elder.objects.get(id_number=A)
    assert (zhang.name, zhang.phone, zhang.residence_region.code) == (
        "张三丰",
        "13800000009",
        "330106001002",
    )
    open_ = set(zhang.categories.filter(end_date=None).values_list("category", flat=True))
    assert open_ == {"living_alone", "veteran", "empty_nest"}


def test_dry_run_writes_nothing(good_file):
    lines, _ = run(good_file, "--dry-run")
    assert lines[-1] == "created 2, updated 0, rejected 0"
    assert Elder.objects.count() == 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (f"{A[:-1]}{'0' if A[-1] != '0' else '1'},王五,330106,,,,,", "id_number"),
        ("33010619440312,王五,330106,,,,,", "id_number"),
        (f"{with_check_character('99999919440312001')},王五,330106,,,,,", "id_number"),
        (f"{with_check_character('33010619440230001')},王五,330106,,,,,", "id_number"),
        (f"{with_check_character('33010620990101001')},王五,330106,,,,,", "id_number"),
        (",王五,330106,,,,,", "id_number"),
        (f"{A},,330106,,,,,", "name"),
        (f"{A},王五,,,,,,", "hukou_region"),
        (f"{A},王五,999999,,,,,", "hukou_region"),
        (f"{A},王五,330106,330106999999,,,,", "residence_region"),
        (f"{A},王五,330106,,12345,,,", "phone"),
        (f"{A},王五,330106,,,living_alone|rich,,", "categories"),
        (f"{A},王五,330106,,,,gold,", "pension"),
        (f"{A},王五,330106,,,,,2024-02-30", "death_date"),
        (f"{A},王五,330106,,,,,2099-01-01", "death_date"),
        (f"{A},王五,330106,,,,,1930-01-01", "death_date"),
    ],
)
def test_a_bad_row_is_rejected_with_line_and_field_while_good_rows_go_in(
    zhejiang, tmp_path, line, field
):
    path = write(tmp_path, [f"{C},赵六,330106,,,,,", line])
    errors_file = tmp_path / "errors.csv"
    lines, err = run(path, "--errors", str(errors_file))
    assert lines[-1] == "created 1, updated 0, rejected 1"
    assert Elder.objects.filter(id_number=C).exists()
    rows = list(csv.DictReader(errors_file.open(encoding="utf-8")))
    assert rows and all(r["row"] == "3" for r in rows)
    assert field in {r["field"] for r in rows}
    assert all(r["message"] for r in rows)
    assert "第 3 行" in err


def test_the_second_occurrence_of_an_id_number_is_rejected(zhejiang, tmp_path):
    path = write(
        tmp_path, [f"{A},张三,330106,,,,,", f"{C},赵六,330106,,,,,", f"{A},张三二,330106,,,,,"]
    )
    errors_file = tmp_path / "errors.csv"
    lines, _ = run(path, "--errors", str(errors_file))
    assert lines[-1] == "created 2, updated 0, rejected 1"
    assert Elder.objects.get(id_number=A).name == "张三"
    rows = list(csv.DictReader(errors_file.open(encoding="utf-8")))
    assert [(r["row"], r["field"]) for r in rows] == [("4", "id_number")]
    assert "第2行" in rows[0]["message"]


def test_a_death_date_on_a_registered_elder_records_the_death(good_file, tmp_path):
    run(good_file)
    path = write(tmp_path, [f"{A},张三,330106,330106001001,13800000001,,resident,2024-05-01"])
    lines, _ = run(path)
    assert lines[-1] == "created 0, updated 1, rejected 0"
    zhang = Elder.objects.get(id_number=A)
    assert zhang.death_date == datetime.date(2024, 5, 1)
    assert not zhang.categories.filter(end_date=None).exists()


def test_xlsx_with_numeric_cells_and_excel_dates(zhejiang, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    sheet.append([C, "赵六", 330106, None, 13800000002, "empty_nest", "居民", None])
    sheet.append([A, "张三", "330106", None, None, None, None, datetime.datetime(2024, 1, 2)])
    path = tmp_path / "elders.xlsx"
    book.save(path)
    lines, err = run(path)
    assert lines[-1] == "created 2, updated 0, rejected 0", err
    assert Elder.objects.get(id_number=C).pension_type == "resident"
    assert Elder.objects.get(id_number=A).death_date == datetime.date(2024, 1, 2)


def test_a_file_without_the_required_header_is_refused_as_a_whole(zhejiang, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,name\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="hukou_region"):
        run(path)


def test_gb18030_csv_from_excel_is_read(zhejiang, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(f"{HEADER}\n{C},赵六,330106,,,,,\n".encode("gb18030"))
    lines, _ = run(path)
    assert lines[-1] == "created 1, updated 0, rejected 0"
    assert Elder.objects.get().name == "赵六"


def test_import_reads_existing_elders_in_one_query(
    zhejiang, tmp_path, django_assert_max_num_queries
):
    for i in range(30):
        services.create_elder(
            id_number=with_check_character(f"330106195001{(i % 28) + 1:02d}{i:03d}"),
            name=f"老人{i}",
            hukou_region=zhejiang.children.get(code="330100").children.get(code="330106"),
        )
    lines = [
        f"{with_check_character(f'330106195001{(i % 28) + 1:02d}{i:03d}')},新名{i},330106,,,living_alone,,"
        for i in range(60)
    ]
    path = write(tmp_path, lines)
    from residents.importing import import_elders

    # regions, elders, open categories; creates/updates/history in bulk; no per-row queries.
    with django_assert_max_num_queries(20):
        plan = import_elders(path.read_bytes(), path.name)
    assert (len(plan.to_create), len(plan.to_update)) == (30, 30)


def test_the_errors_file_writes_every_cell_as_text():
    from residents.importing import RowError, errors_csv

    text = errors_csv([RowError(2, "name", "=1+1"), RowError(3, "@x", "区划代码 =1+1 不存在。")])
    assert text.splitlines() == [
        "row,field,message",
        "2,name,'=1+1",
        "3,'@x,区划代码 =1+1 不存在。",
    ]
