"""The statistics a bureau reports upwards (docs/policy.md §7 — 000 三(二)): per item in force,
in the list's own order, the entitled, the reached and the rate (the coverage's figures), the
money paid (payment lines, held, failed and cancelled ones excluded, recoveries netted) and
the mean satisfaction with its number of answers; as XLSX, or CSV for Excel, audited."""

import csv
import datetime
import io
from decimal import Decimal
from itertools import count

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from regions.models import Region
from servicelist.coverage import coverage
from servicelist.exports import statistics_file
from servicelist.models import SatisfactionSurvey, ServiceItem
from servicelist.selectors import region_list
from servicelist.statistics import period_label, service_statistics
from subsidies.choices import BatchKind, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine
from tests.servicelist.test_coverage import make_elder
from tests.servicelist.test_coverage import schemes as schemes  # a fixture

D = datetime.date
JUNE, END_OF_JUNE = D(2024, 6, 1), D(2024, 6, 30)
CUIYUAN, XIHU = "330106004", "330106"
_serial = count(1)


def region(code):
    return Region.objects.get(code=code)


def line(
    elder, scheme, *, amount="60.00", status=LineStatus.PENDING, kind=LineKind.NORMAL, corrects=None
):
    batch, _ = PaymentBatch.objects.get_or_create(
        region=region(XIHU), period=JUNE, kind=BatchKind.REGULAR
    )
    return PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=JUNE,
        elder=elder,
        amount=Decimal(amount),
        kind=kind,
        status=status,
        corrects=corrects,
    )


def answer(elder, code, score, on=None, provider=""):
    return SatisfactionSurvey.objects.create(
        elder=elder,
        item=ServiceItem.objects.get(code=code) if code else None,
        provider_name=provider,
        surveyed_on=on or D(2024, 6, 10),
        score=score,
        source="import",
    )


@pytest.fixture
def june(schemes):
    """Cuiyuan, June 2024: four 80+ elders — one paid (and a recovery), one held for want of
    an account, one failed at the bank, one unpaid — and a Beishan elder paid; answers about
    the meals, the province's home care (restated by Xihu's item 6) and a canteen."""
    high_age = schemes["high_age_80_89"]
    paid = make_elder(D(1940, 3, 1), name="已领津贴")
    held = make_elder(D(1941, 3, 1), name="暂缓")
    failed = make_elder(D(1942, 3, 1), name="失败")
    make_elder(D(1943, 3, 1), name="未发")
    elsewhere = make_elder(
        D(1940, 4, 1), hukou="330106001001", residence="330106001001", name="北山"
    )
    normal = line(paid, high_age)
    line(paid, high_age, amount="-10.00", kind=LineKind.RECOVERY, corrects=normal)
    line(held, high_age, status=LineStatus.HELD)
    line(failed, high_age, status=LineStatus.FAILED)
    line(elsewhere, high_age)
    answer(paid, "330106:10", 5, provider="翠苑助餐点")
    answer(held, "330106:10", 4, provider="翠苑助餐点")
    answer(paid, "330106:10", 1, on=D(2024, 7, 1))  # after the period
    answer(elsewhere, "330106:10", 1)  # another street
    answer(paid, "330000:4", 3)  # the province's item, restated by 330106:6
    answer(failed, None, 2, provider="=HYPERLINK(1)")
    return {"paid": paid, "held": held, "failed": failed, "elsewhere": elsewhere}


def by_code(statistics):
    return {row.item.code: row for row in statistics.rows}


def test_each_item_carries_the_coverage_s_own_figures_in_the_list_s_order(june):
    statistics = service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE)
    rows = coverage(region(CUIYUAN), JUNE, END_OF_JUNE)
    assert [r.item.code for r in statistics.rows] == [
        li.item.code for li in region_list(region(CUIYUAN), JUNE, END_OF_JUNE)
    ]
    assert [
        (s.item.code, s.coverage.entitled, s.coverage.reached, s.coverage.rate)
        for s in statistics.rows
    ] == [(r.item.code, r.entitled, r.reached, r.rate) for r in rows]
    assert statistics.rows[0].item.code == "330106:1"  # Xihu's own list first, by number


def test_money_paid_nets_recoveries_and_leaves_out_held_failed_and_other_areas(june):
    high_age = by_code(service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE))["330106:15"]
    assert high_age.paid == Decimal("50.00")
    district = by_code(service_statistics(region(XIHU), JUNE, END_OF_JUNE))["330106:15"]
    assert district.paid == Decimal("110.00")


def test_an_item_not_paid_by_the_allowance_run_has_no_amount(june):
    rows = by_code(service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE))
    assert rows["330106:10"].paid is None
    assert rows["330106:11"].paid == Decimal("0.00")  # a cash item nobody was paid


def test_satisfaction_is_the_mean_of_the_area_s_answers_in_the_period(june):
    rows = by_code(service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE))
    meals = rows["330106:10"].satisfaction
    assert (meals.responses, meals.mean) == (2, Decimal("4.50"))
    # An answer about the province's item counts for Xihu's item that restates it.
    home_care = rows["330106:6"].satisfaction
    assert (home_care.responses, home_care.mean) == (1, Decimal("3.00"))
    assert rows["330106:17"].satisfaction.mean is None


def test_each_provider_named_in_the_answers_has_its_mean(june):
    providers = service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE).providers
    assert [(p.provider, p.satisfaction.responses, p.satisfaction.mean) for p in providers] == [
        ("=HYPERLINK(1)", 1, Decimal("2.00")),
        ("翠苑助餐点", 2, Decimal("4.50")),
    ]


def test_the_period_reads_as_a_month_a_year_or_a_span():
    assert period_label(JUNE, END_OF_JUNE) == "2024-06"
    assert period_label(D(2024, 1, 1), D(2024, 12, 31)) == "2024"
    assert period_label(D(2024, 3, 1), END_OF_JUNE) == "2024-03 至 2024-06"


def test_the_xlsx_is_for_people_titled_in_the_list_s_order_and_never_a_formula(june):
    statistics = service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE)
    workbook = load_workbook(io.BytesIO(statistics_file(statistics, "xlsx")))
    items, providers = workbook.worksheets
    assert "翠苑街道" in items["A1"].value and "2024-06" in items["A1"].value
    header = [c.value for c in items[2]]
    assert header[:6] == ["项目代码", "服务项目", "类型", "应享人数", "已享人数", "覆盖率"]
    assert items.freeze_panes == "A3"
    codes = [row[0].value for row in items.iter_rows(min_row=3)]
    assert codes == [row.item.code for row in statistics.rows]
    figures = by_code(statistics)["330106:15"].coverage
    high_age = next(row for row in items.iter_rows(min_row=3) if row[0].value == "330106:15")
    assert (high_age[3].value, high_age[4].value) == (figures.entitled, figures.reached)
    assert high_age[5].value == pytest.approx(float(figures.rate))
    assert high_age[5].number_format == "0.00%"
    assert high_age[6].value == pytest.approx(50)
    names = [row[0].value for row in providers.iter_rows(min_row=2)]
    assert names == ["'=HYPERLINK(1)", "翠苑助餐点"]


def test_the_csv_has_a_byte_order_mark_for_excel_and_rates_in_percent(june):
    statistics = service_statistics(region(CUIYUAN), JUNE, END_OF_JUNE)
    content = statistics_file(statistics, "csv")
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][0] == "项目代码"
    figures = by_code(statistics)["330106:15"].coverage
    high_age = next(row for row in rows if row[0] == "330106:15")
    assert high_age[3:9] == [
        str(figures.entitled),
        str(figures.reached),
        figures.rate_percent,
        "50.00",
        "",
        "0",
    ]
    assert figures.rate_percent.endswith("%") and "." in figures.rate_percent


def test_the_command_writes_the_file_and_the_export_is_audited(june, tmp_path):
    output = tmp_path / "statistics.xlsx"
    call_command(
        "service_statistics", "--region=330106004", "--period=2024-06", f"--output={output}"
    )
    assert load_workbook(output).worksheets[0]["A3"].value == "330106:1"
    entry = AuditEntry.objects.get(object_type="service_statistics")
    assert entry.action == AuditAction.EXPORT and entry.object_id == CUIYUAN
    assert entry.details["period"] == "2024-06"


@pytest.mark.parametrize(("role", "code"), [(Role.STREET_WORKER, CUIYUAN), (Role.BUREAU, "330203")])
def test_the_command_refuses_a_user_who_does_not_reach_the_area_s_lists_and_payments(
    june, tmp_path, role, code
):
    """A street office reads coverage, not payments; a bureau only its own region."""
    user = User.objects.create_user(f"statistics-{role}")
    RoleAssignment.objects.create(user=user, role=role, region=region(code))
    with pytest.raises(CommandError, match="330106004"):
        call_command(
            "service_statistics",
            "--region=330106004",
            "--period=2024",
            f"--output={tmp_path / 'x.csv'}",
            "--format=csv",
            f"--user={user.username}",
        )
    assert not AuditEntry.objects.filter(object_type="service_statistics").exists()


def test_the_queries_do_not_grow_with_the_elders_paid_or_answering(schemes):
    area = region(CUIYUAN)

    def grow(n):
        for _ in range(n):
            elder = make_elder(D(1940, 1, 1) + datetime.timedelta(days=next(_serial)))
            line(elder, schemes["high_age_80_89"])
            answer(elder, "330106:10", 4, provider="翠苑助餐点")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            service_statistics(area, JUNE, END_OF_JUNE)
        return len(captured.captured_queries)

    grow(2)
    small = queries()
    grow(10)
    assert queries() == small
