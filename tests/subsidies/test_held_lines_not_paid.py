"""A line held for want of the payee's account is not paid: it is in no money total (the
batch's pages, its API, the export's control totals), it is shown apart with its count and
amount, and it is held again at export — so a batch approved before payees had accounts never
sends a line the bank cannot pay (docs/policy.md §1, payment channels)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.urls import reverse

from accounts.services import assign_role
from regions.models import Region
from subsidies.batches import approve_batch
from subsidies.choices import LineStatus
from subsidies.exports import export_batch
from subsidies.models import PaymentLine
from subsidies.payees import set_payee_account
from subsidies.selectors import batch_grand_total, batch_held_total
from tests.subsidies.conftest import card_number_for
from tests.subsidies.test_allowance_amounts import run

MAY = datetime.date(2024, 5, 1)


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


@pytest.fixture
def root():
    return User.objects.create_superuser("root-held-lines", "", "x")


@pytest.fixture
def may(make_elder):
    """Xihu, May 2024: an 80-year-old with a bank card (60), a 90-year-old without an account
    (100, held), and a 低保 elder without an account whose e-allowance goes to the care card."""
    with_card = make_elder(datetime.date(1939, 1, 1))
    without = make_elder(datetime.date(1929, 1, 1), account=False)
    care_card = make_elder(datetime.date(1955, 6, 1), categories=["minimum_living"], account=False)
    batch = run("330106", MAY).batch
    return batch, with_card, without, care_card


def test_held_lines_are_in_no_total_and_are_counted_apart(may):
    batch, with_card, without, care_card = may
    held = PaymentLine.objects.get(elder=without)
    assert held.status == LineStatus.HELD
    everything = sum(batch.lines.values_list("amount", flat=True), Decimal("0"))
    count, amount = batch_grand_total(batch)
    assert batch_held_total(batch) == (1, held.amount)
    assert (count + 1, amount + held.amount) == (batch.lines.count(), everything)


def test_a_batch_approved_before_accounts_holds_its_lines_at_export(may, root, tmp_path):
    batch, with_card, without, care_card = may
    approve_batch(batch=batch, by=root)
    line = PaymentLine.objects.get(elder=without)
    # As a batch approved before payees had accounts: the line was never held.
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.PENDING, hold_reason="")
    out = io.StringIO()
    call_command(
        "export_batch", "--region", "330106", "--period", "2024-05", "--format", "csv",
        "--output", str(tmp_path / "may.csv"), stdout=out,
    )  # fmt: skip
    rows = read_csv(tmp_path / "may.csv")
    assert {r["id_number"] for r in rows} == {with_card.id_number, care_card.id_number}
    line.refresh_from_db()
    assert line.status == LineStatus.HELD and "账户" in line.hold_reason
    assert f"PL{line.pk:010d}" in out.getvalue()  # listed with its reason
    # The care card needs no account: its line goes out by ID number.
    (card,) = [r for r in rows if r["id_number"] == care_card.id_number]
    assert card["channel"] == "care_card"
    # The file's control totals are the batch's totals on screen.
    totals = list(csv.reader((tmp_path / "may.totals.csv").open(encoding="utf-8")))
    count, amount = batch_grand_total(batch)
    (total,) = [row for row in totals if row[0] == "TOTAL"]
    assert total[2:] == [str(count), str(amount)]
    assert batch_held_total(batch) == (1, line.amount)


def test_a_line_held_at_export_is_paid_once_the_account_is_added(may, root, tmp_path):
    batch, with_card, without, care_card = may
    batch = approve_batch(batch=batch, by=root)
    line = PaymentLine.objects.get(elder=without)
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.PENDING, hold_reason="")
    export_batch(batch=batch, fmt="csv", output=tmp_path / "may.csv", channel="bank_card")
    line.refresh_from_db()
    assert line.status == LineStatus.HELD  # held even when exporting another channel
    set_payee_account(
        payee=without, channel="bank_card", bank="工商银行", account_number=card_number_for(77)
    )
    (reissue,) = PaymentLine.objects.filter(corrects=line)
    assert reissue.amount == line.amount and reissue.batch.is_draft


def test_an_export_with_every_account_holds_nothing(make_elder, root, tmp_path):
    elder = make_elder(datetime.date(1939, 1, 1))
    batch = approve_batch(batch=run("330106", MAY).batch, by=root)
    export_batch(batch=batch, fmt="csv", output=tmp_path / "may.csv")
    assert [r["id_number"] for r in read_csv(tmp_path / "may.csv")] == [elder.id_number]
    assert batch_held_total(batch) == (0, Decimal("0.00"))


# --- where totals are shown -----------------------------------------------------------------


@pytest.fixture
def cashier(client):
    group, _ = Group.objects.get_or_create(name="subsidies-finance-held")
    group.permissions.set(Permission.objects.filter(content_type__app_label="subsidies"))
    user = User.objects.create_user("cashier-held", password="pw-123456!", is_staff=True)
    user.groups.add(group)
    assign_role(user=user, role="finance", region=Region.objects.get(code="330106"))
    client.force_login(user)
    return client


def test_the_batch_pages_show_held_lines_apart_from_the_totals(may, cashier):
    batch, with_card, without, care_card = may
    held = PaymentLine.objects.get(elder=without)
    count, amount = batch_grand_total(batch)
    page = cashier.get(
        reverse("admin:subsidies_paymentline_changelist"), {"batch__id__exact": batch.pk}
    )
    assert page.context["line_total_count"] == count
    assert page.context["line_total_amount"] == amount
    assert (page.context["line_held_count"], page.context["line_held_amount"]) == (1, held.amount)
    assert 'class="held-count">1<' in page.content.decode()
    approve = cashier.get(reverse("admin:subsidies_paymentbatch_approve", args=[batch.pk]))
    body = approve.content.decode()
    assert 'class="held-count">1<' in body and f"{held.amount:,.2f}" in body
    changelist = cashier.get(reverse("admin:subsidies_paymentbatch_changelist"))
    (row,) = changelist.context["cl"].result_list
    assert (row.payable_count, row.payable_amount) == (count, amount)


def test_the_api_gives_the_held_lines_beside_the_totals(may, cashier):
    batch, with_card, without, care_card = may
    held = PaymentLine.objects.get(elder=without)
    detail = cashier.get(f"/api/subsidies/batches/{batch.pk}/").json()
    count, amount = batch_grand_total(batch)
    assert (detail["line_count"], detail["total_amount"]) == (count, str(amount))
    assert (detail["held_count"], detail["held_amount"]) == (1, str(held.amount))
    assert sum(Decimal(t["amount"]) for t in detail["totals"]) == amount
