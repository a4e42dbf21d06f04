import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from residents.id_numbers import (
    mask_id_number,
    normalize_id_number,
    parse_id_number,
    with_check_character,
)

# Current and historical Zhejiang codes: Xihu, the abolished Shangcheng-era 330103, Ningbo …
REGION_CODES = ["330106", "330103", "330102", "330203", "330523", "330702", "330113"]


@st.composite
def valid_numbers(draw):
    region = draw(st.sampled_from(REGION_CODES))
    birth = draw(
        st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2005, 12, 31))
    )
    sequence = draw(st.integers(min_value=0, max_value=999))
    return with_check_character(f"{region}{birth:%Y%m%d}{sequence:03d}"), region, birth, sequence


@settings(max_examples=200, deadline=None)
@given(valid_numbers())
def test_valid_numbers_round_trip(case):
    number, region, birth, sequence = case
    facts = parse_id_number(number)
    assert (facts.region_code, facts.birth_date) == (region, birth)
    assert facts.sex == ("M" if sequence % 2 else "F")
    assert normalize_id_number(f" {number.lower()} ") == number
    assert parse_id_number(f"{number[:6]} {number[6:].lower()}\u3000") == facts


@settings(max_examples=300, deadline=None)
@given(valid_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_character_change_is_caught(case, position, replacement):
    number = case[0]
    if number[position] == replacement:
        replacement = "0" if replacement != "0" else "1"
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(ValidationError):
        parse_id_number(changed)


def test_born_1944_with_the_1983_xihu_code_is_accepted():
    # python-stdnum's cn.ric.validate would reject this: the code did not exist in 1944.
    assert parse_id_number(with_check_character("33010619440312001")).region_code == "330106"


def test_abolished_code_330103_is_accepted():
    assert parse_id_number(with_check_character("33010319500101002")).region_code == "330103"


def test_unknown_region_code_is_refused():
    with pytest.raises(ValidationError, match="地区码"):
        parse_id_number(with_check_character("99999919500101002"))


def test_future_birth_date_is_refused():
    with pytest.raises(ValidationError, match="晚于今天"):
        parse_id_number(with_check_character("33010620990101002"))


def test_mask_keeps_region_and_last_four():
    assert mask_id_number("33010619440312123X") == "330106********123X"
