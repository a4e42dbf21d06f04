"""Age in completed years is stated once (residents/ages.py), and its three readings agree."""

import datetime

import pytest

from residents import ages, selectors

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)

# Born on leap days, around them, at the turn of a year, and on ordinary days.
BIRTH_DATES = [
    D(1940, 2, 29),
    D(1944, 2, 29),
    D(1943, 2, 28),
    D(1943, 3, 1),
    D(1944, 2, 28),
    D(1944, 3, 1),
    D(1939, 12, 31),
    D(1940, 1, 1),
    D(1951, 7, 15),
]


def days_around(day, span=3):
    return [day + datetime.timedelta(days=n) for n in range(-span, span + 1)]


@pytest.mark.parametrize("birth", BIRTH_DATES)
def test_the_three_readings_agree_around_every_birthday(birth):
    """age ≥ n  ⟺  born on or before the day minus n years  ⟺  on or after the n-th birthday,
    for every n from 55 to 105 and every day around the birthdays and the ends of February."""
    for n in range(55, 106):
        year = birth.year + n
        days = days_around(ages.birthday(birth, n)) + days_around(D(year, 3, 1))
        for on in days:
            reached = ages.age_on(birth, on) >= n
            assert reached == (birth <= ages.add_years(on, -n)), (birth, n, on)
            assert reached == (on >= ages.birthday(birth, n)), (birth, n, on)


def test_n_years_includes_the_birthday_itself():
    # docs/policy.md §0: "80周岁以上" includes 80.
    assert ages.age_on(D(1944, 5, 10), D(2024, 5, 10)) == 80
    assert ages.age_on(D(1944, 5, 10), D(2024, 5, 9)) == 79


def test_born_on_29_february_completes_the_year_on_1_march_in_common_years():
    born = D(1944, 2, 29)
    assert ages.age_on(born, D(2023, 2, 28)) == 78
    assert ages.age_on(born, D(2023, 3, 1)) == 79
    assert ages.age_on(born, D(2024, 2, 29)) == 80
    assert ages.birthday(born, 79) == D(2023, 3, 1)
    assert ages.add_years(born, 79) == D(2023, 2, 28)  # the calendar shift, not the birthday


def test_every_old_name_is_the_one_function():
    assert selectors.age_on is ages.age_on
    assert selectors.add_years is ages.add_years
