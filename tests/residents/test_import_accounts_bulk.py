"""A roll's accounts are written set-based: checked per row (errors naming row and field), the
writer's scope checked, encrypted, inserted and updated in bulk with their history, the held
lines released, in the import's transaction, in as many statements for thirty rows as for
three (subsidies.payees.set_payee_accounts)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from regions.models import Region
from residents.id_numbers import with_check_character
from residents.importing import ACCOUNT_COLUMNS, COLUMNS, apply_import, plan_import, read_rows
from residents.models import Elder
from subsidies.choices import LineStatus
from subsidies.models import PayeeAccount, PaymentLine
from subsidies.payees import AccountEntry, account_number, set_payee_accounts
from tests.subsidies.conftest import card_number_for

pytestmark = pytest.mark.django_db
HEADER = ",".join(COLUMNS + ACCOUNT_COLUMNS)


def number(n: int) -> str:
    return with_check_character(f"33010619400101{n:03d}")


def roll(first: int, count: int, card_offset: int = 0) -> bytes:
    lines = [HEADER] + [
        f"{number(n)},测试{n},330106,,,,none,,bank_card,工商银行,"
        f"{card_number_for(n + card_offset)},"
        for n in range(first, first + count)
    ]
    return ("\n".join(lines) + "\n").encode()


def statements(content: bytes) -> tuple[int, int]:
    """The statements of checking and of writing a roll."""
    rows = read_rows(content, "roll.csv")
    with CaptureQueriesContext(connection) as checking:
        plan = plan_import(rows)
    assert not plan.errors
    with CaptureQueriesContext(connection) as writing:
        apply_import(plan)
    return len(checking), len(writing)


def test_thirty_rows_take_the_statements_of_three(zhejiang):
    assert statements(roll(1, 3)) == statements(roll(100, 30))
    assert PayeeAccount.objects.count() == PayeeAccount.history.count() == 33
    # Every account changed: still the same statements, one history row more for each.
    assert statements(roll(1, 3, 500)) == statements(roll(100, 30, 500))
    assert PayeeAccount.history.filter(history_type="~").count() == 33
    # Only the accounts changed: the elders' own rows are not written again.
    assert not Elder.history.filter(history_type="~").exists()
    account = PayeeAccount.objects.get(elder__id_number=number(120))
    assert account_number(account) == card_number_for(620)


def test_an_unchanged_account_writes_nothing(zhejiang):
    statements(roll(1, 3))
    rows = read_rows(roll(1, 3), "roll.csv")
    plan = plan_import(rows)
    assert (len(plan.to_update), len(plan.unchanged)) == (0, 3)
    apply_import(plan)
    assert PayeeAccount.history.count() == 3


def _elder(n):
    from residents import services

    return services.create_elder(
        id_number=number(n), name=f"测试{n}", hukou_region=Region.objects.get(code="330106")
    )


def test_bad_entries_are_refused_by_row_and_field_and_nothing_is_written(zhejiang):
    elders = [_elder(n) for n in range(1, 4)]
    good = card_number_for(1)
    entries = [
        AccountEntry(elders[0], "bank_card", "工商银行", good, row=2),
        AccountEntry(elders[1], "bank_card", "", card_number_for(2), row=3),
        AccountEntry(elders[2], "bank_card", "工商银行", good[:-1] + "0", row=4),
        AccountEntry(elders[0], "bank_card", "工商银行", good, row=5),
    ]
    with pytest.raises(ValidationError) as refused:
        set_payee_accounts(entries)
    errors = refused.value.message_dict
    assert set(errors) == {"bank", "account_number", "elder"}
    assert errors["bank"][0].startswith("第 3 行")
    assert errors["account_number"][0].startswith("第 4 行")
    assert errors["elder"][0].startswith("第 5 行") and "第 2 行" in errors["elder"][0]
    assert not PayeeAccount.objects.exists()


def test_an_account_from_the_roll_releases_the_elders_held_line(rulebook):
    from subsidies.run.planning import request_allowance_run

    elder = _elder(200)  # 84 in May 2024: the high-age allowance, no account
    run = request_allowance_run(
        region=Region.objects.get(code="330106"), period=datetime.date(2024, 5, 1), sync=True
    )
    line = PaymentLine.objects.get(elder=elder, batch=run.batch)
    assert line.status == LineStatus.HELD
    content = (
        f"{HEADER}\n{elder.id_number},{elder.name},330106,,,,none,,"
        f"bank_card,工商银行,{card_number_for(77)},\n"
    ).encode()
    apply_import(plan_import(read_rows(content, "roll.csv")))
    line.refresh_from_db()
    assert line.status == LineStatus.PENDING
