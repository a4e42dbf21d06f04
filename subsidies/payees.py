"""Payees' accounts and the lines held for want of one.

A line is paid to its payee's account (a bank card or the social-security card's financial
account; an insurer's corporate account for the premiums it is paid, subsidies.insurers),
except the lines of schemes credited to the 爱心卡 (``Scheme.channel``), which the
e-allowance platform matches by ID number. A line whose payee has no account is *held*: kept in
its batch with the reason, never exported, and paid once the account is added — back to
pending while its batch is a draft, else as a reissue line in the region's next draft batch.

Accounts are written by ``set_payee_accounts`` (many at once, as an import gives them) and
``set_payee_account`` (one, through the same function), which check each entry and the
writer's scope, encrypt the numbers, keep the history and release the held lines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError

from accounts.scoping import OutOfScopeWrite, in_write_scope, scoped_for_write
from residents.id_numbers import mask_id_number
from subsidies.choices import ACCOUNT_CHANNELS, LineKind, LineStatus, PaymentChannel
from subsidies.models import PayeeAccount, PaymentBatch, PaymentLine, line_reference
from subsidies.periods import first_of_month
from subsidies.selectors import needs_account_q, unpayable_parts, without_account_q

from . import account_crypto

# Bank cards issued in China (UnionPay, ISO/IEC 7812) have 16 to 19 digits and a Luhn check
# digit. The social-security card's financial account is the account of the bank that issued
# the card: a card number or a passbook-style account, so only digits and a length are checked.
# An organisation's settlement account (对公账户) is numbered by each bank in its own format,
# without a common check digit: digits and a length wide enough for every bank's.
ACCOUNT_LENGTHS = {
    PaymentChannel.BANK_CARD: (16, 19),
    PaymentChannel.SOCIAL_SECURITY_CARD: (10, 25),
    PaymentChannel.CORPORATE_ACCOUNT: (9, 32),
}
LUHN_CHANNELS = {PaymentChannel.BANK_CARD}

PAYEE_KINDS = PayeeAccount.PAYEE_FIELDS
# People and facilities are paid to a card; an insurer to its corporate account.
PERSONAL_CHANNELS = (PaymentChannel.BANK_CARD, PaymentChannel.SOCIAL_SECURITY_CARD)
PAYEE_CHANNELS = {
    "elder": PERSONAL_CHANNELS,
    "caregiver": PERSONAL_CHANNELS,
    "facility": PERSONAL_CHANNELS,
    "insurer": (PaymentChannel.CORPORATE_ACCOUNT,),
}
BATCH_SIZE = 1000


def held_reason_no_account() -> str:
    return _("领取人未登记可用的领取账户（银行卡、社保卡或对公账户），补录账户后补发。")


def _channel_message(kind: str) -> str:
    if kind == "insurer":
        return _("保险公司的账户类型应为 corporate_account（对公账户）。")
    return _("账户类型应为 bank_card（银行卡）或 social_security_card（社保卡）。")


def clean_account_number(channel: str, number: str, *, kind: str = "elder") -> str:
    """The account number as stored (digits only, spaces and dashes typed between groups
    removed), or ValidationError naming the field. ``kind`` is the payee's (PAYEE_KINDS): it
    decides which channels its account may be."""
    if channel not in ACCOUNT_CHANNELS or channel not in PAYEE_CHANNELS[kind]:
        raise ValidationError({"account_channel": _channel_message(kind)})
    digits = "".join(str(number or "").split()).replace("-", "")
    low, high = ACCOUNT_LENGTHS[PaymentChannel(channel)]
    if not digits.isascii() or not digits.isdigit():
        raise ValidationError({"account_number": _("账号只能包含数字。")})
    if not low <= len(digits) <= high:
        raise ValidationError(
            {
                "account_number": _("账号应为 %(low)s–%(high)s 位数字，现为 %(n)s 位。")
                % {"low": low, "high": high, "n": len(digits)}
            }
        )
    if channel in LUHN_CHANNELS:
        try:
            luhn.validate(digits)
        except StdnumError:
            raise ValidationError(
                {"account_number": _("银行卡号校验位不正确（Luhn 校验未通过），请核对卡号。")}
            ) from None
    return digits


def payee_kind(payee) -> str:
    kind = type(payee)._meta.model_name
    if kind not in PAYEE_KINDS:
        raise TypeError(f"not a payee: {payee!r}")
    return kind


@dataclass(frozen=True)
class AccountEntry:
    """One payee's account as given (by a form, the API or a file's ``row``)."""

    payee: object  # an Elder, Caregiver, Facility or Insurer
    channel: str
    bank: str
    account_number: str
    holder_name: str = ""
    row: int | None = None  # the file's row, named in the errors


def _row_message(entry: AccountEntry, message: str) -> str:
    if entry.row is None:
        return message
    return _("第 %(row)s 行：%(message)s") % {"row": entry.row, "message": message}


def _checked(entry: AccountEntry, kind: str, errors: dict[str, list[str]]) -> tuple | None:
    """(channel, bank, digits, holder) of the entry, or None with its errors recorded by
    field (each naming the entry's row)."""
    problems: dict[str, list[str]] = {}
    try:
        digits = clean_account_number(entry.channel, entry.account_number, kind=kind)
    except ValidationError as error:
        problems.update(error.message_dict)
        digits = ""
    bank = (entry.bank or "").strip()
    holder = (entry.holder_name or "").strip()
    if not bank:
        problems.setdefault("bank", []).append(_("请填写开户银行。"))
    for field, value in (("bank", bank), ("account_holder", holder)):
        if len(value) > 100:
            problems.setdefault(field, []).append(_("不能超过100个字符。"))
    for field, messages in problems.items():
        errors.setdefault(field, []).extend(_row_message(entry, m) for m in messages)
    if problems:
        return None
    return entry.channel, bank, digits, (holder or entry.payee.name)[:100]


@transaction.atomic
def set_payee_accounts(entries: list[AccountEntry], *, by=None) -> list[PayeeAccount]:
    """Record (or replace) the accounts of many payees in one transaction: every entry
    checked first (a ValidationError by field, each message naming the entry's row; nothing
    is written if one fails), then the writer's scope for each (``require_in_scope``'s rule:
    the account as stored and as it will be saved), then the new accounts inserted and the
    changed ones updated in bulk, each with its history row, and the lines held for want of
    them released. An entry equal to the account on record writes nothing. An empty holder
    name means the payee's own name. Returns the accounts written."""
    errors: dict[str, list[str]] = {}
    given: dict[tuple[str, int], tuple[AccountEntry, tuple]] = {}
    for entry in entries:
        kind = payee_kind(entry.payee)
        values = _checked(entry, kind, errors)
        key = (kind, entry.payee.pk)
        if key in given:
            errors.setdefault(kind, []).append(
                _row_message(
                    entry,
                    _("%(payee)s的领取账户在第 %(row)s 行已经给出。")
                    % {"payee": entry.payee.name, "row": given[key][0].row},
                )
            )
        elif values is not None:
            given[key] = (entry, values)
    if errors:
        raise ValidationError(errors)
    stored = _stored_accounts(given)
    _require_accounts_in_scope(by, given, stored)
    now = timezone.now()
    writer = by if by is not None and by.is_authenticated else None
    created, changed = [], []
    for (kind, pk), (entry, (channel, bank, digits, holder)) in given.items():
        account = stored.get((kind, pk))
        if account is not None and (
            (account.channel, account.bank, account.holder_name, account.account_last4)
            == (channel, bank, holder, digits[-4:])
            and account_number(account) == digits
        ):
            continue  # the number is decrypted only when everything else is equal
        if account is None:
            account = PayeeAccount(**{kind: entry.payee})
            created.append(account)
        else:
            changed.append(account)
        account.channel = channel
        account.bank = bank
        account.holder_name = holder
        account.account_number_encrypted = account_crypto.encrypt(
            digits, account_crypto.payee_ref(kind, pk)
        )
        account.account_last4 = digits[-4:]
        account.updated_by = writer
        account.updated_at = now  # bulk_update does not apply auto_now
        # The payee and the writer are known rows; the database checks the constraints.
        account.clean_fields(exclude=[*PAYEE_KINDS, "updated_by"])
    bulk_create_with_history(created, PayeeAccount, batch_size=BATCH_SIZE, default_user=writer)
    _update_accounts(changed, writer, now)
    written = created + changed
    release_held_lines_of(written)
    return written


# The changed accounts' new values, a batch at a time: one UPDATE … FROM (VALUES …) reads the
# same on PostgreSQL and SQLite (3.33+), whose VALUES columns are both named column1, column2…
# (Django's bulk_update builds a CASE per field and row in Python: thirty times slower here,
# bench/account_import.py).
_UPDATE_SQL = (
    "UPDATE subsidies_payeeaccount SET channel = v.column2, bank = v.column3, "
    "holder_name = v.column4, account_number_encrypted = v.column5, account_last4 = v.column6, "
    "updated_by_id = %s, updated_at = %s FROM (VALUES {rows}) AS v "
    "WHERE subsidies_payeeaccount.id = v.column1"
)


def _update_accounts(accounts: list[PayeeAccount], writer, now) -> None:
    """Write the changed accounts as they are in memory, with a history row each."""
    for start in range(0, len(accounts), BATCH_SIZE):
        batch = accounts[start : start + BATCH_SIZE]
        params = [writer.pk if writer is not None else None, now]
        for a in batch:
            secret = a.account_number_encrypted
            params += [a.pk, a.channel, a.bank, a.holder_name, secret, a.account_last4]
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(_UPDATE_SQL.format(rows=rows), params)
    PayeeAccount.history.bulk_history_create(
        accounts, batch_size=BATCH_SIZE, update=True, default_user=writer, default_date=now
    )


def _stored_accounts(given) -> dict[tuple[str, int], PayeeAccount]:
    """The accounts on record of the given payees, locked: one query per kind of payee."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, pk in given:
        by_kind[kind].append(pk)
    stored = {}
    for kind, pks in by_kind.items():
        for account in PayeeAccount.objects.select_for_update().filter(**{f"{kind}__in": pks}):
            stored[(kind, getattr(account, f"{kind}_id"))] = account
    return stored


def _require_accounts_in_scope(by, given, stored) -> None:
    """The writer's scope for every entry, as ``require_in_scope`` checks one record: the
    accounts on record within it as stored (one query), each account as it will be saved
    (read in memory from its payee)."""
    if by is None:
        return
    writable = set(
        scoped_for_write(
            PayeeAccount.objects.filter(pk__in=[a.pk for a in stored.values()]), by
        ).values_list("pk", flat=True)
    )
    for key, (entry, _values) in given.items():
        kind = key[0]
        account = stored.get(key)
        inside = account.pk in writable if account is not None else True
        placed = PayeeAccount(**{kind: entry.payee})
        if not inside or not in_write_scope(by, placed, as_stored=False):
            # The payee's kind, not its name: a refusal tells nothing of someone outside.
            message = _("该%(kind)s的领取账户不在您的管辖范围内。") % {
                "kind": type(entry.payee)._meta.verbose_name
            }
            raise OutOfScopeWrite(_row_message(entry, message), field=kind)


def set_payee_account(
    *, payee, channel: str, bank: str, account_number: str, holder_name: str = "", by=None
) -> PayeeAccount:
    """Record (or replace) one payee's account (``set_payee_accounts`` for one entry): the
    lines held for want of it are released, the previous account stays in the history."""
    entry = AccountEntry(payee, channel, bank, account_number, holder_name)
    written = set_payee_accounts([entry], by=by)
    if written:
        return written[0]
    return PayeeAccount.objects.get(**{payee_kind(payee): payee})


def account_number(account: PayeeAccount) -> str:
    """The whole number: for the bank file and the audited detail view only."""
    return account_crypto.decrypt(
        account.account_number_encrypted,
        account_crypto.payee_ref(account.payee_kind, account.payee_pk),
    )


# --- held lines ------------------------------------------------------------------------------


def _needs_account(lines: QuerySet[PaymentLine]) -> QuerySet[PaymentLine]:
    # Recoveries take money back and care-card lines go by ID number: no account needed.
    return lines.filter(needs_account_q())


@transaction.atomic
def hold_lines_without_account(batch: PaymentBatch) -> int:
    """Hold the batch's pending lines that cannot be paid (selectors.unpayable_q: no account
    and never in a file; a line a file already carried went to the bank and stays as it is,
    so that the bank's return still finds it); in a draft batch, put back to pending those
    whose payee has one now. Returns how many lines are held."""
    for part in unpayable_parts(batch.lines.all()):
        part.update(status=LineStatus.HELD, hold_reason=held_reason_no_account())
    held = batch.lines.filter(status=LineStatus.HELD)
    if batch.is_draft:
        held.exclude(pk__in=_needs_account(held).filter(without_account_q()).values("pk")).update(
            status=LineStatus.PENDING, hold_reason=""
        )
    return held.count()


def held_lines_report(batch: PaymentBatch, limit: int = 1000) -> dict:
    """What the run's report and the batch say of held lines: how many, and each line (up to
    ``limit``; the batch's page lists them all) with its payee, masked, and the reason. An
    insurer is named with its credit code (public), not the insured elder."""
    held = batch.lines.filter(status=LineStatus.HELD).order_by("id")
    rows = held.values_list(
        "id",
        "scheme__code",
        "period",
        "amount",
        "hold_reason",
        "insurer__name",
        "insurer__uscc",
        "elder__name",
        "elder__id_number",
        "caregiver__name",
        "caregiver__id_number",
        "facility__name",
    )[:limit]
    lines = [
        {
            "line": line_reference(pk),
            "payee": insurer or elder or caregiver or facility,
            "id_number": uscc or mask_id_number(elder_id or caregiver_id or ""),
            "scheme": scheme,
            "period": f"{period:%Y-%m}",
            "amount": str(amount),
            "reason": reason,
        }
        for (
            pk,
            scheme,
            period,
            amount,
            reason,
            insurer,
            uscc,
            elder,
            elder_id,
            caregiver,
            caregiver_id,
            facility,
        ) in rows
    ]
    return {"count": held.count(), "lines": lines}


def _lines_paying(accounts: list[PayeeAccount]) -> Q:
    """Lines (as a PaymentLine filter) that pay one of ``accounts``' payees: an elder's own
    lines, not the premiums an insurer is paid for them."""
    pks: dict[str, list[int]] = defaultdict(list)
    for account in accounts:
        pks[account.payee_kind].append(account.payee_pk)
    paying = Q(pk__in=[])
    for kind, ids in pks.items():
        extra = {"insurer__isnull": True} if kind == "elder" else {}
        paying |= Q(**{f"{kind}_id__in": ids}, **extra)
    return paying


def release_held_lines_of(accounts: list[PayeeAccount]) -> dict[str, int]:
    """The payees' held lines, now that they have an account: pending again in a draft batch
    (one update); from an approved batch (never edited but for its outcome), a reissue line in
    the region's draft batch of this month, naming the held line (one per held line, so a
    second call adds nothing)."""
    from subsidies.batches import draft_batch_for

    if not accounts:
        return {"pending_again": 0, "reissued": 0}
    held = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(_lines_paying(accounts), status=LineStatus.HELD)
        .select_related("batch")
    )
    back, reissued = [], []
    this_month = first_of_month(timezone.localdate())
    targets: dict[int, PaymentBatch] = {}
    done = set(
        PaymentLine.objects.filter(
            kind=LineKind.REISSUE, corrects__in=held.values("pk")
        ).values_list("corrects_id", flat=True)
    )
    for line in held:
        if line.batch.is_draft:
            back.append(line.pk)
            continue
        if line.pk in done:
            continue
        region = line.batch.region_id
        if region not in targets:
            targets[region] = draft_batch_for(region, this_month)
        reissued.append(
            PaymentLine(
                batch=targets[region],
                scheme_id=line.scheme_id,
                period=line.period,
                **line.payee_columns,
                amount=line.amount,
                kind=LineKind.REISSUE,
                policy_value_id=line.policy_value_id,
                corrects=line,
                inputs={**line.inputs, "releases_held_line": line.pk},
                note=_("原批次 #%(batch)s 暂缓发放（无账户），账户补录后补发")
                % {"batch": line.batch_id},
            )
        )
    PaymentLine.objects.filter(pk__in=back).update(status=LineStatus.PENDING, hold_reason="")
    created = PaymentLine.objects.bulk_create(reissued, ignore_conflicts=True)
    return {"pending_again": len(back), "reissued": len(created)}
