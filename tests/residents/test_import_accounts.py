"""import_elders and the elder's payee account: optional columns
``account_channel,bank,account_number,account_holder`` (an absent column changes nothing, an
empty holder is the elder's own name, a bad account number rejects the row naming the field)."""

import csv
import io

import pytest
from django.core.management import call_command

from residents.id_numbers import with_check_character
from residents.importing import COLUMNS
from subsidies.models import PayeeAccount
from subsidies.payees import account_number

A = with_check_character("33010619440312001")
C = with_check_character("33010619500505004")
CARD = "6222020000000000018"  # passes the Luhn check
HEADER = ",".join(COLUMNS + ["account_channel", "bank", "account_number", "account_holder"])


def write(tmp_path, header, lines):
    path = tmp_path / "elders.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def run(path, *extra):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_elders", str(path), *extra, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines(), err.getvalue()


def test_the_account_columns_record_an_encrypted_account_held_by_the_elder(zhejiang, tmp_path):
    path = write(tmp_path, HEADER, [f"{A},张三,330106,,,,,,bank_card,工商银行,{CARD},"])
    lines, err = run(path)
    assert lines[-1] == "created 1, updated 0, rejected 0", err
    account = PayeeAccount.objects.get(elder__id_number=A)
    assert (account.channel, account.bank, account.holder_name) == ("bank_card", "工商银行", "张三")
    assert account_number(account) == CARD
    lines, _ = run(path)  # the same file again changes nothing
    assert lines[-1] == "created 0, updated 0, rejected 0"
    assert PayeeAccount.history.count() == 1


def test_a_file_without_the_columns_leaves_the_account_alone(zhejiang, tmp_path):
    run(write(tmp_path, HEADER, [f"{A},张三,330106,,,,,,bank_card,工商银行,{CARD},代领人"]))
    lines, _ = run(write(tmp_path, ",".join(COLUMNS), [f"{A},张三丰,330106,,,,,"]))
    assert lines[-1] == "created 0, updated 1, rejected 0"
    account = PayeeAccount.objects.get()
    assert account.holder_name == "代领人" and account_number(account) == CARD


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (f"bank_card,工商银行,{CARD[:-1]}9,", "account_number"),
        ("bank_card,工商银行,62220200,", "account_number"),
        ("bank_card,工商银行,6222O20000000000018,", "account_number"),
        (f"wechat,工商银行,{CARD},", "account_channel"),
        (f"bank_card,,{CARD},", "bank"),
    ],
)
def test_a_bad_account_rejects_the_row_naming_row_and_field(zhejiang, tmp_path, cells, field):
    path = write(tmp_path, HEADER, [f"{C},赵六,330106,,,,,,,,,", f"{A},张三,330106,,,,,,{cells}"])
    errors_file = tmp_path / "errors.csv"
    lines, err = run(path, "--errors", str(errors_file))
    assert lines[-1] == "created 1, updated 0, rejected 1"
    rows = list(csv.DictReader(errors_file.open(encoding="utf-8")))
    assert {(r["row"], r["field"]) for r in rows} == {("3", field)}
    assert f"第 3 行，{field}" in err
    assert not PayeeAccount.objects.exists()
