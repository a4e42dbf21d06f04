import datetime

import pytest

from regions.models import PolicyValue, Region
from residents import services as residents
from tests.factories import ElderFactory

XIHU_COMMUNITY = "330106004001"  # 翠苑一区社区, 翠苑街道
XIHU_OTHER_COMMUNITY = "330106004002"  # 翠苑二区社区
XIHU_OTHER_STREET_COMMUNITY = "330106001001"  # 保俶塔社区, 北山街道
JINHUA_DISTRICT = "330702"  # 婺城区
ANJI = "330523"
NINGBO_DISTRICT = "330203"  # 海曙区


@pytest.fixture
def policies(zhejiang):
    """The rulebook is loaded once per session; this only makes the dependency explicit."""
    assert PolicyValue.objects.filter(key="visit_frequency_childless_alone").exists()
    return zhejiang


@pytest.fixture
def region():
    return lambda code: Region.objects.get(code=code)


@pytest.fixture
def make_elder(policies, region):
    """An elder living at ``lives`` (a region code) with categories held since ``since``."""

    def make(
        *categories,
        lives=XIHU_COMMUNITY,
        registered="330106",
        since=datetime.date(2020, 1, 1),
        **kwargs,
    ):
        elder = ElderFactory(
            residence_region=region(lives) if lives else None,
            hukou_region=region(registered),
            **kwargs,
        )
        for category in categories:
            residents.set_category(elder=elder, category=category, start_date=since)
        return elder

    return make
