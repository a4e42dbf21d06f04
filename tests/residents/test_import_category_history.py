"""Imports keep the history of categories: ``code``, ``code:START`` or ``code:START:END`` per
entry, so that runs for earlier months see what an elder held then."""

import datetime
import io

import pytest
from django.core.management import call_command

from regions.models import Region
from residents.id_numbers import with_check_character
from residents.importing import COLUMNS, import_elders
from residents.models import Elder, ElderCategory
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run

D = datetime.date
TODAY = D(2024, 6, 10)
HEADER = ",".join(COLUMNS)
A = with_check_character("33010619580101001")  # born 1958-01-01, Xihu
B = with_check_character("33010619500505002")


def csv_of(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def row(number: str, categories: str, death_date: str = "") -> str:
    return f"{number},王五,330106,,,{categories},none,{death_date}"


def periods(number: str) -> set[tuple]:
    return set(
        ElderCategory.objects.filter(elder__id_number=number).values_list(
            "category", "start_date", "end_date"
        )
    )


def errors(plan) -> list[tuple[int, str, str]]:
    return [(e.row, e.field, e.message) for e in plan.errors]


def test_each_entry_may_carry_its_start_and_end(zhejiang):
    plan = import_elders(
        csv_of(
            row(
                A,
                "minimum_living:2019-03-01|lost_only_child:2015-01-01:2020-12-31|living_alone",
            )
        ),
        "e.csv",
        today=TODAY,
    )
    assert not plan.errors
    assert periods(A) == {
        ("minimum_living", D(2019, 3, 1), None),
        ("lost_only_child", D(2015, 1, 1), D(2020, 12, 31)),
        ("living_alone", TODAY, None),  # a plain code keeps today's meaning
    }


def test_importing_the_same_dated_file_again_changes_nothing(zhejiang):
    content = csv_of(row(A, "minimum_living:2019-03-01|lost_only_child:2015-01-01:2020-12-31"))
    import_elders(content, "e.csv", today=TODAY)
    again = import_elders(content, "e.csv", today=TODAY)
    assert (len(again.to_update), len(again.unchanged), again.errors) == (0, 1, [])
    assert ElderCategory.objects.count() == 2


def test_an_earlier_start_moves_back_the_start_of_the_period_still_open(zhejiang):
    import_elders(csv_of(row(A, "minimum_living")), "e.csv", today=D(2024, 1, 5))
    plan = import_elders(csv_of(row(A, "minimum_living:2019-03-01")), "e.csv", today=TODAY)
    assert len(plan.to_update) == 1
    assert periods(A) == {("minimum_living", D(2019, 3, 1), None)}
    period = ElderCategory.objects.get(elder__id_number=A)
    assert period.history.count() == 2  # the move is in the history


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("minimum_living:2024-06-11", "起始日期 2024-06-11 晚于今天"),
        ("minimum_living:2019-01-01:2024-06-11", "终止日期 2024-06-11 晚于今天"),
        ("minimum_living:2020-01-01:2019-12-31", "终止日期 2019-12-31 早于起始日期 2020-01-01"),
        ("minimum_living:2019-02-30", "起始日期 2019-02-30 无效"),
        ("minimum_living:1957-12-31", "早于出生日期 1958-01-01"),
        ("minimum_living:2019-01-01:2020-01-01:2021-01-01", "格式无效"),
        ("no_such_code:2019-01-01", "未知的类别代码 no_such_code"),
        (
            "minimum_living:2015-01-01:2019-12-31|minimum_living:2019-06-01",
            "与已登记的 2015-01-01–2019-12-31 重叠",
        ),
    ],
)
def test_bad_dates_reject_the_row_naming_row_and_field(zhejiang, entry, message):
    good = row(B, "minimum_living:2019-03-01")
    plan = import_elders(csv_of(good, row(A, entry)), "e.csv", today=TODAY)
    ((line, field, text),) = errors(plan)
    assert (line, field) == (3, "categories") and message in text
    assert not Elder.objects.filter(id_number=A).exists()
    assert Elder.objects.filter(id_number=B).exists()  # a bad row never blocks a good one


def test_an_import_never_ends_a_category_still_held(zhejiang):
    import_elders(csv_of(row(A, "minimum_living:2019-03-01")), "e.csv", today=TODAY)
    plan = import_elders(
        csv_of(row(A, "minimum_living:2019-03-01:2023-12-31")), "e.csv", today=TODAY
    )
    ((line, field, text),) = errors(plan)
    assert (line, field) == (2, "categories") and "重叠" in text
    assert periods(A) == {("minimum_living", D(2019, 3, 1), None)}


def test_a_new_elder_dead_at_import_held_the_category_until_the_death(zhejiang):
    plan = import_elders(
        csv_of(row(A, "minimum_living:2019-03-01|living_alone", "2023-05-04")),
        "e.csv",
        today=TODAY,
    )
    assert not plan.errors
    assert periods(A) == {
        ("minimum_living", D(2019, 3, 1), D(2023, 5, 4)),
        ("living_alone", D(2023, 5, 4), D(2023, 5, 4)),
    }
    late = import_elders(
        csv_of(row(B, "minimum_living:2023-06-01", "2023-05-04")), "e.csv", today=TODAY
    )
    assert "晚于死亡日期" in errors(late)[0][2]


def test_a_run_for_an_earlier_month_sees_the_category_held_then(rulebook, tmp_path):
    """Imported today as 失独 since 2019, the elder is owed Xihu's 2024 yearly 900 in February."""
    path = tmp_path / "elders.csv"
    path.write_bytes(csv_of(row(A, "lost_only_child:2019-03-01")))
    call_command("import_elders", str(path), stdout=io.StringIO())
    elder = Elder.objects.get(id_number=A)
    request_allowance_run(region=Region.objects.get(code="330106"), period=D(2024, 2, 1), sync=True)
    assert list(PaymentLine.objects.filter(elder=elder).values_list("scheme__code", "amount")) == [
        ("xihu_e_allowance_lost_only_child", 900)
    ]
