"""A line a file already carried went to the bank: it is never held afterwards, every later
file of its batch carries it again (in the channel of the first file), and the bank's return
keeps matching; only lines never exported are held at export. And every screen counts what
is payable and what is held by one rule (subsidies.selectors.payable_and_held), before any
export holds a line."""

import csv
from decimal import Decimal

import pytest
from django.urls import reverse

from dashboards import selectors as dashboard
from dashboards.selectors import AllowanceCell, Period
from regions.models import Region
from subsidies.bank_returns import parse_bank_return
from subsidies.batches import approve_batch
from subsidies.choices import LineStatus
from subsidies.exports import export_batch, reconcile_batch
from subsidies.models import PayeeAccount, PaymentLine
from subsidies.payees import set_payee_account
from subsidies.selectors import batch_payable_and_held, batch_totals
from tests.subsidies.conftest import card_number_for
from tests.subsidies.test_held_lines_not_paid import MAY, cashier, may, read_csv, root

__all__ = ["cashier", "may", "root"]  # fixtures


def references(path) -> list[str]:
    return [row["reference"] for row in read_csv(path)]


def bank_return(rows, status="paid") -> list:
    text = "reference,status,bank_reference\n" + "".join(
        f"{row['reference']},{status},B-{n}\n" for n, row in enumerate(rows)
    )
    return parse_bank_return(text.encode(), "return.csv")


def remove_account(payee) -> None:
    """As an account deleted by hand: the history records the deletion."""
    PayeeAccount.objects.get(elder=payee).delete()


@pytest.fixture
def approved(may, root):
    batch, with_card, without, care_card = may
    return approve_batch(batch=batch, by=root), with_card, without, care_card


def test_a_line_in_a_file_is_exported_again_after_its_account_is_removed(approved, tmp_path):
    batch, with_card, without, care_card = approved
    export_batch(batch=batch, fmt="csv", output=tmp_path / "first.csv")
    first = read_csv(tmp_path / "first.csv")
    line = PaymentLine.objects.get(elder=with_card, batch=batch)
    remove_account(with_card)
    before = batch_payable_and_held(batch)
    export_batch(batch=batch, fmt="csv", output=tmp_path / "again.csv")
    line.refresh_from_db()
    assert line.status == LineStatus.PENDING  # never held: it went to the bank
    assert references(tmp_path / "again.csv") == [row["reference"] for row in first]
    assert batch_payable_and_held(batch) == before  # still payable, nothing held anew
    # The bank answers the first file: every row matches, the batch is reconciled.
    reconcile_batch(batch=batch, rows=bank_return(first), file_name="r.csv", sha256="x")
    line.refresh_from_db()
    assert line.status == LineStatus.PAID
    batch.refresh_from_db()
    assert batch.state == "reconciled"


def test_a_channels_file_carries_its_lines_again_whatever_the_account_is_now(approved, tmp_path):
    batch, with_card, without, care_card = approved
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank.csv", channel="bank_card")
    first = read_csv(tmp_path / "bank.csv")
    assert [row["id_number"] for row in first] == [with_card.id_number]
    # The elder's account becomes a social-security card: the line stays in the bank's file
    # and is not sent a second time in the other channel's file.
    set_payee_account(
        payee=with_card,
        channel="social_security_card",
        bank="社保银行",
        account_number="1234567890123",
    )
    export_batch(batch=batch, fmt="csv", output=tmp_path / "ss.csv", channel="social_security_card")
    assert read_csv(tmp_path / "ss.csv") == []
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank2.csv", channel="bank_card")
    assert references(tmp_path / "bank2.csv") == [first[0]["reference"]]
    # Removed altogether: still in the bank's file, never held.
    remove_account(with_card)
    export_batch(batch=batch, fmt="xlsx", output=tmp_path / "bank3.xlsx", channel="bank_card")
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank3.csv", channel="bank_card")
    assert references(tmp_path / "bank3.csv") == [first[0]["reference"]]
    totals = list(csv.reader((tmp_path / "bank3.totals.csv").open(encoding="utf-8")))
    assert [row for row in totals if row[0] == "TOTAL"][0][2] == "1"
    line = PaymentLine.objects.get(elder=with_card, batch=batch)
    assert line.status == LineStatus.PENDING
    reconcile_batch(batch=batch, rows=bank_return(first), file_name="r.csv", sha256="x")
    line.refresh_from_db()
    assert line.status == LineStatus.PAID


def test_a_line_never_exported_is_held_at_its_channels_export(approved, tmp_path):
    batch, with_card, without, care_card = approved
    # The care card's file first: the bank card line is in no file yet.
    export_batch(batch=batch, fmt="csv", output=tmp_path / "care.csv", channel="care_card")
    assert [row["id_number"] for row in read_csv(tmp_path / "care.csv")] == [care_card.id_number]
    line = PaymentLine.objects.get(elder=with_card, batch=batch)
    remove_account(with_card)
    # Held on every screen at once, before the next export holds it.
    split = batch_payable_and_held(batch)
    assert split.held.count == 2 and line.status == LineStatus.PENDING
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank.csv", channel="bank_card")
    line.refresh_from_db()
    assert line.status == LineStatus.HELD
    assert read_csv(tmp_path / "bank.csv") == []
    assert batch_payable_and_held(batch) == split  # what the screens said is what happened


def test_every_screen_counts_a_line_without_an_account_as_held_before_export(
    approved, cashier, root
):
    batch, with_card, without, care_card = approved
    # As a batch approved before payees had accounts: the line was never held.
    line = PaymentLine.objects.get(elder=without, batch=batch)
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.PENDING, hold_reason="")
    everything = sum(batch.lines.values_list("amount", flat=True), Decimal("0"))
    split = batch_payable_and_held(batch)
    assert (split.held.count, split.held.amount) == (1, line.amount)
    assert split.payable.count == batch.lines.count() - 1
    assert split.payable.amount == everything - line.amount
    assert sum(t["amount"] for t in batch_totals(batch)) == split.payable.amount
    # The batch API.
    detail = cashier.get(f"/api/subsidies/batches/{batch.pk}/").json()
    assert (detail["line_count"], detail["total_amount"]) == (
        split.payable.count,
        str(split.payable.amount),
    )
    assert (detail["held_count"], detail["held_amount"]) == (1, str(line.amount))
    # The batch pages: the list, the batch's page and the line review.
    changelist = cashier.get(reverse("admin:subsidies_paymentbatch_changelist"))
    (row,) = changelist.context["cl"].result_list
    assert (row.payable_count, row.payable_amount) == (split.payable.count, split.payable.amount)
    assert (row.held_count, row.held_amount) == (1, line.amount)
    review = cashier.get(
        reverse("admin:subsidies_paymentline_changelist"), {"batch__id__exact": batch.pk}
    )
    assert (review.context["line_total_count"], review.context["line_total_amount"]) == (
        split.payable.count,
        split.payable.amount,
    )
    assert (review.context["line_held_count"], review.context["line_held_amount"]) == (
        1,
        line.amount,
    )
    page = cashier.get(reverse("admin:subsidies_paymentbatch_change", args=[batch.pk]))
    assert 'class="held"' in page.content.decode()
    # The dashboard.
    table = dashboard.allowance_totals(
        root, Region.objects.get(code="330106"), Period.of_months(MAY, MAY, MAY)
    )
    assert table.total == AllowanceCell(split.payable.count, split.payable.amount)
    assert table.held == AllowanceCell(1, line.amount)


def test_a_draft_batch_counts_a_removed_account_as_held_at_once(may):
    batch, with_card, without, care_card = may
    before = batch_payable_and_held(batch)
    line = PaymentLine.objects.get(elder=with_card, batch=batch)
    remove_account(with_card)
    after = batch_payable_and_held(batch)
    assert after.held.count == before.held.count + 1
    assert after.payable.amount == before.payable.amount - line.amount
    set_payee_account(
        payee=with_card, channel="bank_card", bank="工商银行", account_number=card_number_for(91)
    )
    assert batch_payable_and_held(batch) == before


def test_an_account_loaded_without_history_is_read_from_its_deletion(approved, tmp_path):
    # Accounts loaded in bulk have no history rows: the deletion's record keeps the channel.
    batch, with_card, without, care_card = approved
    PayeeAccount.history.filter(elder=with_card).delete()
    export_batch(batch=batch, fmt="csv", output=tmp_path / "bank.csv", channel="bank_card")
    first = references(tmp_path / "bank.csv")
    remove_account(with_card)
    assert batch_payable_and_held(batch).held.count == 1  # the elder never paid, only
    export_batch(batch=batch, fmt="csv", output=tmp_path / "again.csv", channel="bank_card")
    assert references(tmp_path / "again.csv") == first
    line = PaymentLine.objects.get(elder=with_card, batch=batch)
    assert line.status == LineStatus.PENDING
