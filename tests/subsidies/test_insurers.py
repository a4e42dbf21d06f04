"""Accident-insurance premiums are paid to the insurer that covers the elder (docs/policy.md §1):
one line per insured elder whose payee is the insurer, held until the insurer's corporate
account is on record, in the bank's file under the insurer's credit code, and listed in the
insured list per insurer and year (masked, or whole for the insurer's copy with permission)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import OutOfScopeWrite
from regions.models import PolicyValue, Region
from residents import services as residents_services
from subsidies import exporting
from subsidies.bank_returns import parse_bank_return
from subsidies.batches import approve_batch
from subsidies.choices import LineStatus
from subsidies.exports import export_batch, reconcile_batch
from subsidies.insured_lists import export_insured_list
from subsidies.insurers import register_insurer, set_insurance_cover
from subsidies.models import InsuranceCover, Insurer, PayeeAccount, PaymentLine
from subsidies.payees import account_number, clean_account_number, set_payee_account
from subsidies.run.planning import request_allowance_run
from subsidies.schemes import scheme_by_code
from tests.factories import credit_code  # valid codes (GB 32100-2015)
from tests.subsidies.conftest import card_number_for

pytestmark = pytest.mark.django_db
JANUARY = datetime.date(2025, 1, 1)  # the yearly items' payment month
PREMIUM = Decimal("30")
CORPORATE = "110060149018001234567"  # an organisation's account: digits, no check digit


def insurer(name="人保财险杭州分公司", n=1, region="330106", *, account=True):
    made = register_insurer(
        insurer=Insurer(name=name, uscc=credit_code(n), region=Region.objects.get(code=region))
    )
    if account:
        set_payee_account(
            payee=made, channel="corporate_account", bank="工商银行", account_number=CORPORATE
        )
    return made


def cover(scheme_code, region, who, start=datetime.date(2024, 1, 1), end=None):
    return set_insurance_cover(
        cover=InsuranceCover(
            scheme=scheme_by_code(scheme_code),
            region=Region.objects.get(code=region),
            insurer=who,
            start_date=start,
            end_date=end,
        )
    )


def premium(region, value=PREMIUM):
    PolicyValue.objects.filter(region__code=region, key="accident_insurance_premium").update(
        value=value
    )


def run(region, period=JANUARY):
    return request_allowance_run(region=Region.objects.get(code=region), period=period, sync=True)


@pytest.fixture
def difficult(make_elder):
    """Xihu elders of 低保 households (whom Xihu insures, 001 清单13), each with a bank card."""

    def make(region="330106", born=datetime.date(1950, 3, 1)):
        return make_elder(born, region, categories=["minimum_living"])

    return make


def insured_lines(scheme="xihu_accident_insurance"):
    return PaymentLine.objects.filter(scheme__code=scheme).order_by("elder_id")


# --- the run -------------------------------------------------------------------------------------


def test_as_shipped_the_premium_is_not_set_and_nobody_is_paid(rulebook, difficult):
    difficult()
    cover("xihu_accident_insurance", "330106", insurer())
    result = run("330106")
    assert not insured_lines().exists()
    skipped = [s for s in result.report["skipped_schemes"] if s["scheme"].endswith("insurance")]
    assert [s["key"] for s in skipped] == ["accident_insurance_premium"]


def test_each_insured_elder_is_one_line_paid_to_the_insurer(rulebook, difficult, make_elder):
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    first, second = difficult(), difficult()
    not_difficult = make_elder(datetime.date(1950, 3, 1))
    run("330106")
    lines = list(insured_lines())
    assert [line.elder for line in lines] == [first, second]
    assert {line.payee for line in lines} == {company}
    assert {line.amount for line in lines} == {Decimal("30.00")}
    assert not PaymentLine.objects.filter(elder=not_difficult, scheme__code__contains="insur")
    assert lines[0].inputs["insurer"] == company.name
    assert lines[0].inputs["insurance_cover_id"] == InsuranceCover.objects.get().pk
    # A rerun adds only an elder registered since: one premium per (scheme, year, elder).
    late = difficult()
    run("330106")
    assert [line.elder for line in insured_lines()] == [first, second, late]


def test_without_a_cover_in_force_the_premium_is_reported_not_paid(rulebook, difficult):
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company, end=datetime.date(2024, 12, 31))
    difficult()
    result = run("330106")
    assert not insured_lines().exists()
    [skipped] = [s for s in result.report["skipped_schemes"] if s["scheme"].endswith("insurance")]
    assert "承保" in skipped["reason"]


def test_a_cover_from_after_the_payment_month_is_paid_in_its_first_month(rulebook, difficult):
    # The yearly rule (docs/policy.md §1): a premium is in force once an insurer covers.
    premium("330106")
    cover("xihu_accident_insurance", "330106", insurer(), start=datetime.date(2025, 3, 1))
    elder = difficult()
    for month in (1, 2, 3, 4):
        run("330106", datetime.date(2025, month, 1))
    assert [(line.elder, line.period.month) for line in insured_lines()] == [(elder, 3)]


def test_a_streets_own_cover_decides_for_its_elders(rulebook, difficult):
    premium("330106")
    district, street = insurer("区级承保公司", 1), insurer("街道承保公司", 2)
    cover("xihu_accident_insurance", "330106", district)
    cover("xihu_accident_insurance", "330106001", street)  # 北山街道
    in_street = difficult("330106001001")
    elsewhere = difficult("330106002")
    run("330106")
    payees = {line.elder: line.insurer for line in insured_lines()}
    assert payees == {in_street: street, elsewhere: district}


def test_the_elders_own_account_does_not_pay_or_release_a_premium(rulebook, difficult):
    premium("330106")
    company = insurer(account=False)
    cover("xihu_accident_insurance", "330106", company)
    elder = difficult()  # has a bank card of their own
    result = run("330106")
    line = insured_lines().get()
    assert line.status == LineStatus.HELD
    assert result.batch.lines.filter(status=LineStatus.HELD).count() == 1
    set_payee_account(
        payee=elder, channel="bank_card", bank="另一银行", account_number=card_number_for(999)
    )
    assert insured_lines().get().status == LineStatus.HELD
    set_payee_account(
        payee=company, channel="corporate_account", bank="工商银行", account_number=CORPORATE
    )
    assert insured_lines().get().status == LineStatus.PENDING


def test_a_premium_set_for_a_month_already_run_is_paid_to_the_insurer(
    rulebook, difficult, tasks_in_process, django_capture_on_commit_callbacks
):
    from regions import services as rulebook_services

    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    elder = difficult()
    run("330106")  # January 2025: no premium set yet, nobody paid
    assert not insured_lines().exists()
    row = PolicyValue.objects.get(region__code="330106", key="accident_insurance_premium")
    with django_capture_on_commit_callbacks(execute=True):
        rulebook_services.revise_policy_value(
            row=row,
            applies_from=JANUARY,
            reason="保费确定",
            today=datetime.date(2025, 2, 10),
            value=PREMIUM,
        )
    line = insured_lines().get()
    assert (line.elder, line.insurer, line.amount) == (elder, company, Decimal("30.00"))


# --- the bank's file and its return -------------------------------------------------------------


@pytest.fixture
def finance(rulebook):
    user = User.objects.create_user("finance-insurers")
    RoleAssignment.objects.create(
        user=user, role=Role.FINANCE, region=Region.objects.get(code="330106")
    )
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    return User.objects.get(pk=user.pk)


def test_the_bank_is_told_the_insurer_its_code_and_corporate_account(
    rulebook, difficult, finance, tmp_path
):
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    difficult(), difficult()
    batch = run("330106").batch
    batch = approve_batch(batch=batch, by=finance)
    output = tmp_path / "bank.csv"
    export_batch(batch=batch, fmt="csv", output=output, channel="corporate_account")
    rows = list(csv.DictReader(output.open(encoding="utf-8", newline="")))
    # One transfer per insurer: the sum of its premiums and how many insured it pays for.
    assert rows == [
        {
            "reference": exporting.insurer_reference(batch.pk, company.pk),
            "id_number": company.uscc,
            "name": company.name,
            "scheme": "xihu_accident_insurance",
            "period": "2025-01",
            "amount": "60.00",
            "kind": "insured:2",
            "channel": "corporate_account",
            "bank": "工商银行",
            "account_number": CORPORATE,
            "account_holder": company.name,
        }
    ]
    totals = list(csv.reader((tmp_path / "bank.totals.csv").open(encoding="utf-8")))
    assert ["TOTAL", "合计", "2", "60.00"] in totals  # two premiums
    assert totals[-2][0] == "ROWS" and totals[-2][2] == "1"  # in one row
    # One row of the bank's return, by the insurer's row, settles all its lines.
    answer = f"reference,status,bank_reference\n{rows[0]['reference']},paid,TRANSFER-1\n"
    reconcile_batch(
        batch=batch,
        rows=parse_bank_return(answer.encode(), "return.csv"),
        file_name="r",
        sha256="x",
    )
    assert set(insured_lines().values_list("status", flat=True)) == {LineStatus.PAID}


def test_the_insurers_row_sits_among_the_elders_lines_in_every_file(
    rulebook, difficult, finance, tmp_path
):
    # The elders' own lines keep their rows; the premiums are one row at the first premium.
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    elders = [difficult(), difficult()]
    batch = approve_batch(batch=run("330106").batch, by=finance)
    export_batch(batch=batch, fmt="csv", output=tmp_path / "all.csv")
    rows = list(csv.DictReader((tmp_path / "all.csv").open(encoding="utf-8", newline="")))
    folded = [r for r in rows if r["reference"].startswith("PI")]
    assert [(r["amount"], r["kind"]) for r in folded] == [("60.00", "insured:2")]
    own = [r for r in rows if not r["reference"].startswith("PI")]
    lines = batch.lines.filter(insurer__isnull=True).exclude(status__in=["held", "cancelled"])
    assert [r["reference"] for r in own] == [
        f"PL{pk:010d}" for pk in lines.values_list("pk", flat=True).order_by("pk")
    ]
    assert {r["id_number"] for r in own} <= {e.id_number for e in elders}
    first_premium = insured_lines().order_by("pk").first().pk
    assert rows.index(folded[0]) == sum(1 for r in own if int(r["reference"][2:]) < first_premium)
    # The same rows through the ORM as through the database's own formatting.
    assert list(exporting.export_rows(batch)) == list(exporting._export_rows_orm(batch))
    # The finance layout and the workbook say the same.
    export_batch(
        batch=batch, fmt="xlsx", output=tmp_path / "all.xlsx", layout=exporting.Layout.FINANCE
    )
    sheet = load_workbook(tmp_path / "all.xlsx", read_only=True).worksheets[1]
    cells = list(sheet.iter_rows(values_only=True))
    (row,) = [c for c in cells[1:] if str(c[0]).startswith("PI")]
    assert row[5] == 60 and "2" in row[6] and row[1] == company.uscc
    assert len(cells) == len(rows) + 1


def test_the_orm_rows_equal_the_sql_rows_for_an_insurer(rulebook, difficult, finance):
    premium("330106")
    cover("xihu_accident_insurance", "330106", insurer())
    difficult()
    batch = run("330106").batch
    batch = approve_batch(batch=batch, by=finance)
    sql_or_orm = list(exporting.export_rows(batch))
    assert sorted(sql_or_orm) == sorted(exporting._export_rows_orm(batch))


# --- the insured list ---------------------------------------------------------------------------


@pytest.fixture
def insured_year(rulebook, difficult):
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    elders = [difficult(), difficult()]
    residents_services.update_elder(elder=elders[1], name="=HYPERLINK(1)")
    run("330106")
    return company, elders


def read_list(path):
    text = path.read_bytes()
    assert text.startswith("\ufeff".encode())  # Excel on Chinese Windows reads UTF-8
    return list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))


def test_the_insured_list_is_masked_for_finance_safe_totalled_and_audited(
    insured_year, finance, tmp_path
):
    company, elders = insured_year
    written = export_insured_list(
        insurer=company, period="2025", fmt="csv", output=tmp_path / "list.csv", by=finance
    )
    header, *rows, total = read_list(tmp_path / "list.csv")
    assert header[3] == "身份证号" and len(rows) == 2
    by_name = {r[4]: r[3] for r in rows}
    assert by_name == {
        elders[0].name: elders[0].id_number[:6] + "********" + elders[0].id_number[-4:],
        "'=HYPERLINK(1)": elders[1].id_number[:6] + "********" + elders[1].id_number[-4:],
    }  # a name typed as a formula stays text
    assert total[0] == "合计" and total[2] == company.uscc and total[6] == "60.00"
    assert (written.count, written.amount, written.full_ids) == (2, Decimal("60.00"), False)
    entry = AuditEntry.objects.get(action=AuditAction.EXPORT, object_type="subsidies.insurer")
    assert entry.user == finance and entry.details["full_ids"] is False
    assert entry.details["sha256"] == written.sha256


def test_the_insurers_copy_needs_the_permission_and_a_reason(insured_year, finance, tmp_path):
    company, elders = insured_year
    output = tmp_path / "full.xlsx"
    with pytest.raises(PermissionDenied):
        export_insured_list(
            insurer=company, period="2025-01", fmt="xlsx", output=output, by=finance,
            full_ids=True, reason="投保",
        )  # fmt: skip
    finance.user_permissions.add(Permission.objects.get(codename="export_full_insured_list"))
    finance = User.objects.get(pk=finance.pk)
    with pytest.raises(ValidationError) as refused:
        export_insured_list(
            insurer=company, period="2025", fmt="xlsx", output=output, by=finance, full_ids=True
        )
    assert "reason" in refused.value.message_dict
    export_insured_list(
        insurer=company, period="2025", fmt="xlsx", output=output, by=finance,
        full_ids=True, reason="年度投保",
    )  # fmt: skip
    sheet = load_workbook(output, read_only=True).worksheets[0]
    cells = list(sheet.iter_rows(values_only=True))
    assert {row[4]: row[3] for row in cells[1:3]} == {
        elders[0].name: elders[0].id_number,
        "'=HYPERLINK(1)": elders[1].id_number,
    }
    assert cells[-1][6] == 60
    entry = AuditEntry.objects.filter(object_type="subsidies.insurer").latest("pk")
    assert entry.reason == "年度投保" and entry.details["full_ids"] is True


def test_the_auditor_never_gets_the_insurers_copy(insured_year, tmp_path):
    company, _elders = insured_year
    auditor = User.objects.create_user("auditor-insurers")
    RoleAssignment.objects.create(
        user=auditor, role=Role.AUDITOR, region=Region.objects.get(code="330106")
    )
    auditor.user_permissions.add(Permission.objects.get(codename="export_full_insured_list"))
    with pytest.raises(PermissionDenied):
        export_insured_list(
            insurer=company, period="2025", fmt="csv", output=tmp_path / "x.csv",
            by=User.objects.get(pk=auditor.pk), full_ids=True, reason="查看",
        )  # fmt: skip


def test_a_role_outside_the_subsidies_is_refused_the_list(insured_year, tmp_path):
    company, _elders = insured_year
    worker = User.objects.create_user("street-insurers")
    RoleAssignment.objects.create(
        user=worker, role=Role.STREET_WORKER, region=Region.objects.get(code="330106")
    )
    output = tmp_path / "x.csv"
    with pytest.raises(PermissionDenied):
        export_insured_list(insurer=company, period="2025", fmt="csv", output=output, by=worker)
    assert not output.exists()
    assert not AuditEntry.objects.filter(object_type="subsidies.insurer").exists()


def test_a_region_outside_the_user_s_areas_is_refused_whatever_the_door(
    insured_year, finance, tmp_path
):
    company, _elders = insured_year
    output = tmp_path / "x.csv"
    with pytest.raises(ValidationError) as refused:
        export_insured_list(
            insurer=company, period="2025", fmt="csv", output=output, by=finance,
            region=Region.objects.get(code="330203"),
        )  # fmt: skip
    assert "region" in refused.value.message_dict
    assert not output.exists()
    assert not AuditEntry.objects.filter(object_type="subsidies.insurer").exists()
    with pytest.raises(CommandError, match="330203"):
        call_command(
            "export_insured_list",
            "--insurer", company.uscc, "--period", "2025", "--format", "csv",
            "--output", str(output), "--region", "330203", "--user", finance.username,
        )  # fmt: skip


def test_the_command_writes_the_list(insured_year, tmp_path):
    company, _elders = insured_year
    out = io.StringIO()
    call_command(
        "export_insured_list",
        "--insurer", company.uscc, "--period", "2025", "--format", "csv",
        "--output", str(tmp_path / "cmd.csv"),
        stdout=out,
    )  # fmt: skip
    assert "2 insured, 60.00 yuan, ID numbers masked" in out.getvalue()
    assert len(read_list(tmp_path / "cmd.csv")) == 4


# --- insurers, covers and their accounts --------------------------------------------------------


def test_an_insurer_needs_a_valid_credit_code(rulebook):
    with pytest.raises(ValidationError) as refused:
        register_insurer(
            insurer=Insurer(
                name="无效代码", uscc="91330106MA0000000X", region=Region.objects.get(code="330106")
            )
        )
    assert "uscc" in refused.value.message_dict


def test_an_insurer_is_paid_to_a_corporate_account_and_a_person_never(rulebook, make_elder):
    company = insurer(account=False)
    with pytest.raises(ValidationError) as refused:
        set_payee_account(
            payee=company, channel="bank_card", bank="银行", account_number=card_number_for(999)
        )
    assert list(refused.value.message_dict) == ["account_channel"]
    with pytest.raises(ValidationError):
        clean_account_number("corporate_account", CORPORATE, kind="elder")
    with pytest.raises(ValidationError) as short:
        clean_account_number("corporate_account", "12345678", kind="insurer")
    assert list(short.value.message_dict) == ["account_number"]
    account = set_payee_account(
        payee=company, channel="corporate_account", bank="工商银行", account_number=CORPORATE
    )
    assert account.masked_number == "****4567" and account.holder_name == company.name
    assert account_number(PayeeAccount.objects.get(insurer=company)) == CORPORATE


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_date": datetime.date(2024, 6, 1)}, "start_date"),  # overlaps the first
        ({"region": "330203"}, "region"),  # Ningbo is outside Xihu's scheme
        ({"scheme": "high_age_80_89"}, "scheme"),  # not paid to an insurer
        (
            {"end_date": datetime.date(2024, 12, 1), "start_date": datetime.date(2025, 1, 1)},
            "end_date",
        ),
    ],
)
def test_a_cover_is_refused_naming_the_field(rulebook, change, field):
    company = insurer()
    cover("xihu_accident_insurance", "330106", company, end=datetime.date(2024, 12, 31))
    values = {
        "scheme": scheme_by_code(change.pop("scheme", "xihu_accident_insurance")),
        "region": Region.objects.get(code=change.pop("region", "330106")),
        "insurer": company,
        "start_date": datetime.date(2025, 1, 1),
        **change,
    }
    with pytest.raises(ValidationError) as refused:
        set_insurance_cover(cover=InsuranceCover(**values))
    assert field in refused.value.message_dict


def test_a_writer_outside_the_region_cannot_name_its_insurer(rulebook):
    company = insurer()
    ningbo_finance = User.objects.create_user("ningbo-finance")
    RoleAssignment.objects.create(
        user=ningbo_finance, role=Role.FINANCE, region=Region.objects.get(code="330203")
    )
    with pytest.raises(OutOfScopeWrite):
        set_insurance_cover(
            cover=InsuranceCover(
                scheme=scheme_by_code("xihu_accident_insurance"),
                region=Region.objects.get(code="330106"),
                insurer=company,
                start_date=datetime.date(2025, 1, 1),
            ),
            by=User.objects.get(pk=ningbo_finance.pk),
        )
    with pytest.raises(OutOfScopeWrite):
        set_payee_account(
            payee=company,
            channel="corporate_account",
            bank="银行",
            account_number=CORPORATE,
            by=User.objects.get(pk=ningbo_finance.pk),
        )
