"""Age in completed years (周岁), stated once for the whole project (docs/policy.md §0).

Every reader of an age goes through these functions: the allowance run, visit schedules,
waiting lists, the registry's screens, and the condition language that compiles ages to
``birth_date`` comparisons (regions/conditions.py). Plain Python, no Django, so that scripts
(the benchmark generator) use the same rule.

The three functions agree with each other, for every birth date and day (29 February included):

- ``age_on(b, d) >= n``  ⟺  ``b <= add_years(d, -n)``  (what a query compares), and
- ``age_on(b, d) >= n``  ⟺  ``d >= birthday(b, n)``   (the day a threshold is reached).
"""

from __future__ import annotations

import datetime


def age_on(birth_date: datetime.date, on: datetime.date) -> int:
    """Completed years on ``on``. "N周岁以上" includes N: one is 80 from the 80th birthday on.

    Someone born on 29 February completes a year on 1 March in common years: on 28 February
    not yet, on 1 March yes.
    """
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same calendar day ``years`` later (or earlier); 29 February falls on 28 February.

    ``add_years(on, -n)`` is the latest birth date of someone aged ``n`` or more on ``on``.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def birthday(birth_date: datetime.date, years: int) -> datetime.date:
    """The first day on which ``age_on`` reaches ``years``: for 29 February in a common year,
    1 March (not 28 February, when the year is not yet complete)."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:
        return datetime.date(birth_date.year + years, 3, 1)
