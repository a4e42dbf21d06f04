"""python manage.py visits_due: the list scripts depend on."""

import csv
import datetime
import uuid

import pytest
from django.core.management import CommandError, call_command

from regions.models import Region
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import JINHUA_DISTRICT
from visits import services

pytestmark = pytest.mark.django_db


def run(tmp_path, region="330106", date="2024-03-05"):
    out = tmp_path / "due.csv"
    call_command(
        "visits_due", "--region", region, "--date", date, "--format", "csv", "--output", str(out)
    )
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_writes_the_agreed_columns_with_frequency_last_visit_and_due(tmp_path, make_elder):
    daily = make_elder("childless_alone")
    monthly = make_elder("empty_nest")
    make_elder("minimum_living")  # not a Xihu visit group
    make_elder("living_alone", lives=JINHUA_DISTRICT)  # lives elsewhere
    dead = make_elder("living_alone")
    from residents.services import record_death

    record_death(elder=dead, death_date=datetime.date(2024, 3, 1))
    worker = FieldWorkerFactory()
    VisitWorkerFactory(user=worker, area=Region.objects.get(code="330106004"))
    services.record_visit(
        uuid=uuid.uuid4(),
        elder=monthly,
        worker=worker,
        visited_at=datetime.datetime.fromisoformat("2024-03-02T10:00:00+08:00"),
        mode="phone",
        outcome="seen_well",
    )
    rows = run(tmp_path)
    assert list(rows[0])[:5] == ["id_number", "name", "frequency", "last_visit", "due"]
    got = {r["id_number"]: (r["frequency"], r["last_visit"], r["due"]) for r in rows}
    assert got == {
        daily.id_number: ("daily", "", "true"),
        monthly.id_number: ("monthly", "2024-03-02", "false"),
    }


def test_bad_arguments_name_the_option(tmp_path, policies):
    with pytest.raises(CommandError, match="--region"):
        run(tmp_path, region="999999")
    with pytest.raises(CommandError, match="--date"):
        run(tmp_path, date="2024-13-01")


def test_a_name_typed_as_a_formula_is_written_as_text(tmp_path, make_elder):
    make_elder("childless_alone", name='=HYPERLINK("http://evil.example","点此")')
    make_elder("childless_alone", name="-1+1")
    names = sorted(row["name"] for row in run(tmp_path))
    assert names == ["'-1+1", '\'=HYPERLINK("http://evil.example","点此")']
