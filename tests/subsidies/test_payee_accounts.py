"""Payee accounts: validated, encrypted at rest, kept in history; lines whose payee has none
are held (listed with the reason, never exported, paid once the account is added); Xihu's
e-allowances go to the care card by ID number; the bank file gains the account's columns."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from openpyxl import load_workbook

from accounts.scoping import OutOfScopeWrite
from subsidies import account_crypto, exporting
from subsidies.batches import approve_batch
from subsidies.choices import LineKind, LineStatus
from subsidies.exports import export_batch
from subsidies.models import PayeeAccount, PaymentLine
from subsidies.payees import account_number, clean_account_number, set_payee_account
from tests.subsidies.conftest import card_number_for
from tests.subsidies.test_allowance_amounts import run

MAY = datetime.date(2024, 5, 1)
TODAYS_COLUMNS = ["reference", "id_number", "name", "scheme", "period", "amount", "kind"]


@pytest.fixture
def finance():
    user = User.objects.create_user("finance-payees")
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    return User.objects.get(pk=user.pk)


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


# --- validation -------------------------------------------------------------------------------


def test_a_bank_card_number_must_pass_luhn_and_the_refusal_names_the_field():
    good = card_number_for(7)
    assert clean_account_number("bank_card", good[:6] + " " + good[6:]) == good
    wrong_check_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as refused:
        clean_account_number("bank_card", wrong_check_digit)
    assert "account_number" in refused.value.message_dict


@pytest.mark.parametrize(
    ("channel", "number"),
    [
        ("bank_card", "62220212345"),
        ("bank_card", "6222a21234567890"),
        ("social_security_card", "123"),
    ],
)
def test_a_number_of_the_wrong_length_or_with_letters_is_refused(channel, number):
    with pytest.raises(ValidationError) as refused:
        clean_account_number(channel, number)
    assert list(refused.value.message_dict) == ["account_number"]


def test_the_care_card_is_not_an_account_channel():
    with pytest.raises(ValidationError) as refused:
        clean_account_number("care_card", card_number_for(1))
    assert list(refused.value.message_dict) == ["account_channel"]


# --- at rest ------------------------------------------------------------------------------------


def test_the_number_is_encrypted_at_rest_masked_and_kept_in_history(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1), account=False)
    number = card_number_for(11)
    account = set_payee_account(
        payee=elder, channel="bank_card", bank="工商银行", account_number=number
    )
    stored = bytes(PayeeAccount.objects.values_list("account_number_encrypted", flat=True).get())
    assert number.encode() not in stored and number[-8:].encode() not in stored
    assert account.masked_number == "****" + number[-4:] and number not in str(account)
    assert account.holder_name == elder.name  # an empty holder is the payee's own name
    assert account_number(PayeeAccount.objects.get()) == number
    set_payee_account(
        payee=elder,
        channel="social_security_card",
        bank="农业银行",
        account_number="6228480012345678",
        holder_name="代领人",
    )
    assert PayeeAccount.objects.count() == 1
    assert [h.bank for h in PayeeAccount.history.order_by("history_id")] == ["工商银行", "农业银行"]


def test_a_ciphertext_copied_onto_another_payee_does_not_decrypt(make_elder):
    first = make_elder(datetime.date(1939, 1, 1))
    second = make_elder(datetime.date(1939, 1, 2))
    stolen = first.payee_account.account_number_encrypted
    PayeeAccount.objects.filter(elder=second).update(account_number_encrypted=stolen)
    with pytest.raises(account_crypto.UndecryptableAccount):
        account_number(PayeeAccount.objects.get(elder=second))


def test_an_older_key_still_decrypts_after_a_new_one_is_put_first(make_elder, settings):
    elder = make_elder(datetime.date(1939, 1, 1))
    settings.PAYEE_ACCOUNT_KEYS = ["bmV3LWtleS1mb3ItdGhlLXJvdGF0aW9uLXRlc3QtMzI="] + list(
        settings.PAYEE_ACCOUNT_KEYS
    )
    assert account_number(elder.payee_account).startswith("622202")


def test_a_writer_outside_the_payees_area_is_refused(make_elder):
    from accounts.models import RoleAssignment
    from regions.models import Region

    elder = make_elder(datetime.date(1939, 1, 1), account=False)
    outsider = User.objects.create_user("anji-finance")
    RoleAssignment.objects.create(
        user=outsider, role="finance", region=Region.objects.get(code="330523")
    )
    with pytest.raises(OutOfScopeWrite):
        set_payee_account(
            payee=elder,
            channel="bank_card",
            bank="工商银行",
            account_number=card_number_for(3),
            by=User.objects.get(pk=outsider.pk),
        )
    assert not PayeeAccount.objects.exists()


# --- held lines ---------------------------------------------------------------------------------


def test_a_line_without_an_account_is_held_reported_and_never_exported(make_elder, tmp_path):
    paid = make_elder(datetime.date(1939, 1, 1))
    unpaid = make_elder(datetime.date(1939, 1, 2), account=False)
    allowance_run = run("330106", MAY)
    held = PaymentLine.objects.get(elder=unpaid)
    assert held.status == LineStatus.HELD and "账户" in held.hold_reason
    report = allowance_run.report["held_lines"]
    assert report["count"] == 1
    assert report["lines"][0]["line"] == f"PL{held.pk:010d}"
    assert report["lines"][0]["reason"] == held.hold_reason
    assert unpaid.id_number not in str(report)  # masked
    assert allowance_run.report["batch_lines"] == 1

    root = User.objects.create_superuser("root-held", "", "x")
    approve_batch(batch=allowance_run.batch, by=root)
    out = io.StringIO()
    call_command(
        "export_batch", "--region", "330106", "--period", "2024-05", "--format", "csv",
        "--output", str(tmp_path / "may.csv"), stdout=out,
    )  # fmt: skip
    rows = read_csv(tmp_path / "may.csv")
    assert [r["id_number"] for r in rows] == [paid.id_number]
    assert f"PL{held.pk:010d}" in out.getvalue()  # the command lists what it held


def test_an_account_added_while_the_batch_is_a_draft_puts_the_line_back(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1), account=False)
    run("330106", MAY)
    set_payee_account(
        payee=elder, channel="bank_card", bank="工商银行", account_number=card_number_for(5)
    )
    line = PaymentLine.objects.get(elder=elder)
    assert line.status == LineStatus.PENDING and line.hold_reason == ""


def test_an_account_added_after_approval_pays_the_held_line_in_the_next_batch(make_elder, finance):
    elder = make_elder(datetime.date(1939, 1, 1), account=False)
    batch = approve_batch(batch=run("330106", MAY).batch, by=finance)
    held = PaymentLine.objects.get(elder=elder)
    assert held.status == LineStatus.HELD
    for _ in range(2):  # a second change of account pays nothing twice
        set_payee_account(
            payee=elder, channel="bank_card", bank="工商银行", account_number=card_number_for(6)
        )
    reissue = PaymentLine.objects.get(kind=LineKind.REISSUE)
    assert reissue.corrects == held and reissue.amount == held.amount
    assert reissue.batch != batch and reissue.batch.is_draft
    assert reissue.status == LineStatus.PENDING


def test_xihu_e_allowances_go_to_the_care_card_without_an_account(make_elder, tmp_path):
    elder = make_elder(datetime.date(1955, 6, 1), categories=["minimum_living"], account=False)
    root = User.objects.create_superuser("root-care", "", "x")
    batch = approve_batch(batch=run("330106", MAY).batch, by=root)
    line = PaymentLine.objects.get(elder=elder)
    assert line.scheme.code == "xihu_e_allowance_minimum_living"
    assert line.status == LineStatus.PENDING
    export_batch(batch=batch, fmt="csv", output=tmp_path / "care.csv", channel="care_card")
    (row,) = read_csv(tmp_path / "care.csv")
    assert row["channel"] == "care_card" and row["id_number"] == elder.id_number
    assert row["account_number"] == "" and row["bank"] == ""
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank.csv", channel="bank_card")
    assert read_csv(tmp_path / "bank.csv") == []


# --- the bank's file ----------------------------------------------------------------------------


def test_the_bank_file_keeps_todays_columns_first_and_adds_the_account(make_elder, tmp_path):
    elder = make_elder(datetime.date(1939, 1, 1))
    root = User.objects.create_superuser("root-file", "", "x")
    batch = approve_batch(batch=run("330106", MAY).batch, by=root)
    export_batch(batch=batch, fmt="csv", output=tmp_path / "may.csv")
    with (tmp_path / "may.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == TODAYS_COLUMNS + ["channel", "bank", "account_number", "account_holder"]
    (row,) = read_csv(tmp_path / "may.csv")
    assert row["channel"] == "bank_card" and row["bank"] == "测试银行"
    assert row["account_number"] == account_number(elder.payee_account)
    assert row["account_holder"] == elder.name


# --- finance's files ----------------------------------------------------------------------------


def test_finance_csv_opens_in_chinese_excel(make_elder, tmp_path):
    make_elder(datetime.date(1939, 1, 1))
    root = User.objects.create_superuser("root-bom", "", "x")
    batch = approve_batch(batch=run("330106", MAY).batch, by=root)
    export_batch(batch=batch, fmt="csv", output=tmp_path / "finance.csv", layout="finance")
    data = (tmp_path / "finance.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:6] == [
        "支付参考号",
        "证件号码",
        "姓名/名称",
        "津贴项目",
        "所属月份",
        "金额（元）",
    ]
    assert row[3] == "高龄津贴（80–89周岁）" and row[5] == "60.00" and row[6] == "正常发放"
    assert row[7] == "银行卡"


@pytest.mark.parametrize("layout", ["bank", "finance"])
def test_the_xlsx_opens_in_another_reader_with_numbers_widths_and_a_frozen_header(
    make_elder, tmp_path, layout
):
    for day in (1, 2, 3):
        make_elder(datetime.date(1939, 1, day))
    root = User.objects.create_superuser("root-xlsx", "", "x")
    batch = approve_batch(batch=run("330106", MAY).batch, by=root)
    output = tmp_path / "may.xlsx"
    record = export_batch(batch=batch, fmt="xlsx", output=output, layout=layout)
    workbook = load_workbook(output, read_only=True)
    assert workbook.sheetnames == ["汇总", "明细1"]
    rows = list(workbook["明细1"].iter_rows(values_only=True))
    assert len(rows) == 4 and record.line_count == 3
    assert rows[0][0] == ("支付参考号" if layout == "finance" else "reference")
    assert [r[5] for r in rows[1:]] == [60, 60, 60]
    assert all(isinstance(r[5], float | int) for r in rows[1:])
    summary = list(workbook["汇总"].iter_rows(values_only=True))
    assert summary[-1][2:] == (3, 180)
    workbook.close()
    full = load_workbook(output)  # widths, number format and the frozen pane
    sheet = full["明细1"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= 18
    assert sheet["F2"].number_format == "0.00"


@pytest.mark.postgres
def test_the_copy_path_writes_the_orm_paths_bytes_with_accounts(make_elder, tmp_path, monkeypatch):
    assert connection.vendor == "postgresql"
    for day in (1, 2):
        make_elder(datetime.date(1939, 1, day))
    make_elder(datetime.date(1955, 6, 1), categories=["minimum_living"], account=False)
    batch = run("330106", MAY).batch
    copied = exporting.write_csv(batch, tmp_path / "copy.csv")
    assert copied.count == 3
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)
    monkeypatch.setattr(exporting, "_write_csv_by_copy", lambda *args, **kwargs: ("", None))
    exporting.write_csv(batch, tmp_path / "orm.csv")
    assert (tmp_path / "copy.csv").read_bytes() == (tmp_path / "orm.csv").read_bytes()
    assert b",care_card,," in (tmp_path / "copy.csv").read_bytes()
    import hashlib

    assert copied.sha256 == hashlib.sha256((tmp_path / "copy.csv").read_bytes()).hexdigest()


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_shows_the_number_masked_and_whole_only_with_a_reason_audited(make_elder, client):
    from accounts.models import AuditEntry

    elder = make_elder(datetime.date(1939, 1, 1))
    number = account_number(elder.payee_account)
    root = User.objects.create_superuser("root-admin", "", "x")
    client.force_login(root)
    listing = client.get("/admin/subsidies/payeeaccount/").content.decode()
    assert "****" + number[-4:] in listing and number not in listing
    assert elder.id_number not in listing
    url = f"/admin/subsidies/payeeaccount/{elder.payee_account.pk}/reveal/"
    assert number not in client.get(url).content.decode()
    assert number not in client.post(url, {"reason": ""}, follow=True).content.decode()
    assert not AuditEntry.objects.filter(action="view_account_number").exists()
    shown = client.post(url, {"reason": "核对银行退回"}).content.decode()
    assert number in shown
    entry = AuditEntry.objects.get(action="view_account_number")
    assert entry.user == root and entry.reason == "核对银行退回"
    assert entry.object_id == str(elder.payee_account.pk)
