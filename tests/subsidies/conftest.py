import datetime
import itertools
from decimal import Decimal

import pytest
from stdnum import luhn

from regions.models import PolicyValue, Region
from regions.services import set_policy_value
from residents import services as residents_services
from residents.id_numbers import with_check_character
from subsidies.payees import set_payee_account

_sequence = itertools.count(1)


@pytest.fixture
def make_elder(rulebook):
    """An elder born on ``born``, registered in ``region`` (code), through the registry service."""

    def make(
        born: datetime.date,
        region: str = "330106",
        *,
        pension="none",
        categories=(),
        account=True,
    ):
        n = next(_sequence)
        elder = residents_services.create_elder(
            id_number=with_check_character(f"{region[:6]}{born:%Y%m%d}{n % 1000:03d}"),
            name=f"测试{n}",
            hukou_region=Region.objects.get(code=region),
            pension_type=pension,
        )
        for category in categories:
            residents_services.set_category(
                elder=elder, category=category, start_date=datetime.date(2000, 1, 1)
            )
        if account:
            # Cash goes to an account: without one the elder's lines are held.
            set_payee_account(
                payee=elder,
                channel="bank_card",
                bank="测试银行",
                account_number=card_number_for(n),
            )
        return elder

    return make


def card_number_for(n: int) -> str:
    """A 19-digit bank card number that passes the Luhn check, different for each n."""
    body = f"622202{n:012d}"
    return body + luhn.calc_check_digit(body)


@pytest.fixture
def xihu(rulebook):
    return Region.objects.get(code="330106")


def set_province_amounts(amounts: dict[str, str]) -> None:
    """Fill the province's rows of these rulebook keys, which the seeds name without a number
    ("not set"), for a test: from the row's own start, with its citation."""
    province = Region.objects.get(code="330000")
    for key, amount in amounts.items():
        row = PolicyValue.objects.get(region=province, key=key)
        set_policy_value(
            region=province,
            key=key,
            value=Decimal(amount),
            effective_from=row.effective_from,
            citation=row.citation,
        )
