"""Payees' accounts and the lines held for want of one.

A line is paid to its payee's account (a bank card or the social-security card's financial
account), except the lines of schemes credited to the 爱心卡 (``Scheme.channel``), which the
e-allowance platform matches by ID number. A line whose payee has no account is *held*: kept in
its batch with the reason, never exported, and paid once the account is added — back to
pending while its batch is a draft, else as a reissue line in the region's next draft batch.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError

from accounts.scoping import require_in_scope
from residents.id_numbers import mask_id_number
from subsidies.choices import ACCOUNT_CHANNELS, LineKind, LineStatus, PaymentChannel
from subsidies.models import PayeeAccount, PaymentBatch, PaymentLine, line_reference
from subsidies.periods import first_of_month

from . import account_crypto

# Bank cards issued in China (UnionPay, ISO/IEC 7812) have 16 to 19 digits and a Luhn check
# digit. The social-security card's financial account is the account of the bank that issued
# the card: a card number or a passbook-style account, so only digits and a length are checked.
ACCOUNT_LENGTHS = {
    PaymentChannel.BANK_CARD: (16, 19),
    PaymentChannel.SOCIAL_SECURITY_CARD: (10, 25),
}
LUHN_CHANNELS = {PaymentChannel.BANK_CARD}

PAYEE_KINDS = ("elder", "caregiver", "facility")


def held_reason_no_account() -> str:
    return _("领取人未登记可用的领取账户（银行卡或社保卡），补录账户后补发。")


def clean_account_number(channel: str, number: str) -> str:
    """The account number as stored (digits only, spaces and dashes typed between groups
    removed), or ValidationError naming the field."""
    if channel not in ACCOUNT_CHANNELS:
        raise ValidationError(
            {
                "account_channel": _(
                    "账户类型应为 bank_card（银行卡）或 social_security_card（社保卡）。"
                )
            }
        )
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


def _payee_kind(payee) -> str:
    kind = type(payee)._meta.model_name
    if kind not in PAYEE_KINDS:
        raise TypeError(f"not a payee: {payee!r}")
    return kind


@transaction.atomic
def set_payee_account(
    *, payee, channel: str, bank: str, account_number: str, holder_name: str = "", by=None
) -> PayeeAccount:
    """Record (or replace) the payee's account; the lines held for want of it are released.

    An empty holder name means the payee's own name. The previous account stays in the
    history."""
    kind = _payee_kind(payee)
    digits = clean_account_number(channel, account_number)
    bank = (bank or "").strip()
    if not bank:
        raise ValidationError({"bank": _("请填写开户银行。")})
    account = PayeeAccount.objects.select_for_update().filter(
        **{kind: payee}
    ).first() or PayeeAccount(**{kind: payee})
    require_in_scope(by, account, field=kind, as_stored=account.pk is not None)
    account.channel = channel
    account.bank = bank[:100]
    account.holder_name = ((holder_name or "").strip() or payee.name)[:100]
    account.account_number_encrypted = account_crypto.encrypt(
        digits, account_crypto.payee_ref(kind, payee.pk)
    )
    account.account_last4 = digits[-4:]
    account.updated_by = by if by is not None and by.is_authenticated else None
    account.full_clean()
    account.save()
    release_held_lines(account=account)
    return account


def account_number(account: PayeeAccount) -> str:
    """The whole number: for the bank file and the audited detail view only."""
    return account_crypto.decrypt(
        account.account_number_encrypted,
        account_crypto.payee_ref(account.payee_kind, account.payee_pk),
    )


# --- held lines ------------------------------------------------------------------------------


def _without_account() -> Q:
    """Lines (as a PaymentLine filter) whose payee has no account."""
    return (
        Q(elder__isnull=False, elder__payee_account__isnull=True)
        | Q(caregiver__isnull=False, caregiver__payee_account__isnull=True)
        | Q(facility__isnull=False, facility__payee_account__isnull=True)
    )


def _needs_account(lines: QuerySet[PaymentLine]) -> QuerySet[PaymentLine]:
    # Recoveries take money back and care-card lines go by ID number: no account needed.
    return lines.filter(amount__gt=0).exclude(scheme__channel=PaymentChannel.CARE_CARD)


@transaction.atomic
def hold_lines_without_account(batch: PaymentBatch) -> int:
    """Hold the batch's pending lines whose payee has no account; in a draft batch, put back
    to pending those whose payee has one now. Returns how many lines are held."""
    pending = _needs_account(batch.lines.filter(status=LineStatus.PENDING))
    pending.filter(_without_account()).update(
        status=LineStatus.HELD, hold_reason=held_reason_no_account()
    )
    held = batch.lines.filter(status=LineStatus.HELD)
    if batch.is_draft:
        held.exclude(pk__in=_needs_account(held).filter(_without_account()).values("pk")).update(
            status=LineStatus.PENDING, hold_reason=""
        )
    return held.count()


def held_lines_report(batch: PaymentBatch, limit: int = 1000) -> dict:
    """What the run's report and the batch say of held lines: how many, and each line (up to
    ``limit``; the batch's page lists them all) with its payee, masked, and the reason."""
    held = batch.lines.filter(status=LineStatus.HELD).order_by("id")
    rows = held.values_list(
        "id",
        "scheme__code",
        "period",
        "amount",
        "hold_reason",
        "elder__name",
        "elder__id_number",
        "caregiver__name",
        "caregiver__id_number",
        "facility__name",
    )[:limit]
    lines = [
        {
            "line": line_reference(pk),
            "payee": elder or caregiver or facility,
            "id_number": mask_id_number(elder_id or caregiver_id or ""),
            "scheme": scheme,
            "period": f"{period:%Y-%m}",
            "amount": str(amount),
            "reason": reason,
        }
        for pk, scheme, period, amount, reason, elder, elder_id, caregiver, caregiver_id, facility in rows
    ]
    return {"count": held.count(), "lines": lines}


def release_held_lines(*, account: PayeeAccount) -> dict[str, int]:
    """The payee's held lines, now that they have an account: pending again in a draft batch;
    from an approved batch (never edited but for its outcome), a reissue line in the region's
    draft batch of this month, naming the held line (one per held line, so a second call adds
    nothing)."""
    from subsidies.batches import draft_batch_for

    held = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(status=LineStatus.HELD, **{account.payee_kind: account.payee_pk})
        .select_related("batch")
    )
    back, reissued = [], []
    this_month = first_of_month(timezone.localdate())
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
        target = draft_batch_for(line.batch.region_id, this_month)
        reissued.append(
            PaymentLine(
                batch=target,
                scheme_id=line.scheme_id,
                period=line.period,
                elder_id=line.elder_id,
                caregiver_id=line.caregiver_id,
                facility_id=line.facility_id,
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
