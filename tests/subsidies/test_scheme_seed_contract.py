"""The schemes file seeds an empty database; after that the database is the master (the
contract of regions/seed_files.py): a load inserts the schemes it lacks, never overwrites one,
lists each that differs from the file with who changed it and when, and ``--adopt CODE`` takes
the file's definition deliberately, kept in the scheme's history."""

import io

import pytest
from django.core.management import call_command

from subsidies.models import Scheme
from subsidies.schemes import adopt_scheme, load_schemes

HOME_TIER = "nursing_home_basically_unable"
# The definition before the home tiers were limited to elders at home.
OLD_CONDITION = {
    "all": [{"age_at_least": 60}, {"category": ["minimum_living"]}, {"ability_level": ["severe"]}]
}


@pytest.fixture
def loaded(rulebook):
    report = load_schemes()
    assert report.created == Scheme.objects.count() and not report.differences
    return report


def test_a_second_load_inserts_nothing_and_finds_no_difference(loaded):
    again = load_schemes()
    assert (again.created, len(again.differences)) == (0, 0)
    assert again.unchanged == loaded.created


def test_a_scheme_changed_in_the_database_is_listed_not_overwritten(loaded):
    scheme = Scheme.objects.get(code=HOME_TIER)
    scheme.condition = OLD_CONDITION
    scheme._change_reason = "旧版本"
    scheme.save()
    Scheme.objects.filter(code="nursing_institution").delete()
    out = io.StringIO()
    call_command("load_schemes", stdout=out)
    assert Scheme.objects.get(code=HOME_TIER).condition == OLD_CONDITION  # kept
    assert Scheme.objects.filter(code="nursing_institution").exists()  # the missing one added
    text = out.getvalue()
    assert HOME_TIER in text and "lives_at_home" in text and "--adopt" in text
    assert "created 1" in text and "differing 1" in text


def test_adopting_takes_the_files_definition_into_the_history(loaded):
    Scheme.objects.filter(code=HOME_TIER).update(condition=OLD_CONDITION)
    out = io.StringIO()
    call_command("load_schemes", "--adopt", HOME_TIER, stdout=out)
    scheme = Scheme.objects.get(code=HOME_TIER)
    assert {"lives_at_home": True} in scheme.condition["all"]
    assert scheme.history.latest("history_date").history_change_reason == "采用规则文件中的版本"
    assert "adopted from the file: 1" in out.getvalue()
    assert adopt_scheme(code=HOME_TIER).unchanged == 1
    assert not load_schemes().differences
