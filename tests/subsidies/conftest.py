import datetime
import itertools

import pytest

from regions.models import Region
from residents import services as residents_services
from residents.id_numbers import with_check_character

_sequence = itertools.count(1)


@pytest.fixture
def make_elder(rulebook):
    """An elder born on ``born``, registered in ``region`` (code), through the registry service."""

    def make(born: datetime.date, region: str = "330106", *, pension="none", categories=()):
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
        return elder

    return make


@pytest.fixture
def xihu(rulebook):
    return Region.objects.get(code="330106")
