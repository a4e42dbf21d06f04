import datetime

import pytest
from django.core.exceptions import ValidationError

from residents import services
from residents.models import ElderCategory
from tests.factories import ElderFactory

DEATH = datetime.date(2024, 3, 15)


@pytest.fixture
def elder(zhejiang):
    return ElderFactory()


def test_death_ends_open_categories_on_the_death_date(elder):
    services.set_category(
        elder=elder, category="living_alone", start_date=datetime.date(2020, 1, 1)
    )
    services.set_category(
        elder=elder, category="minimum_living", start_date=datetime.date(2021, 1, 1)
    )
    services.record_death(elder=elder, death_date=DEATH)
    elder.refresh_from_db()
    assert elder.death_date == DEATH
    ends = set(ElderCategory.objects.filter(elder=elder).values_list("category", "end_date"))
    assert ends == {("living_alone", DEATH), ("minimum_living", DEATH)}


def test_death_leaves_already_ended_categories_as_they_were(elder):
    services.set_category(
        elder=elder,
        category="empty_nest",
        start_date=datetime.date(2019, 1, 1),
        end_date=datetime.date(2020, 6, 30),
    )
    services.record_death(elder=elder, death_date=DEATH)
    assert ElderCategory.objects.get(elder=elder).end_date == datetime.date(2020, 6, 30)


def test_death_keeps_category_rows_never_deletes_them(elder):
    services.set_category(elder=elder, category="veteran", start_date=datetime.date(2020, 1, 1))
    services.record_death(elder=elder, death_date=DEATH)
    assert ElderCategory.objects.filter(elder=elder).count() == 1
    assert ElderCategory.history.filter(elder_id=elder.pk).count() == 2


def test_death_date_in_the_future_is_refused(elder):
    with pytest.raises(ValidationError) as error:
        services.record_death(
            elder=elder, death_date=datetime.date.today() + datetime.timedelta(days=1)
        )
    assert "death_date" in error.value.message_dict


def test_recording_the_same_death_twice_changes_nothing_a_different_date_is_refused(elder):
    services.record_death(elder=elder, death_date=DEATH)
    services.record_death(elder=elder, death_date=DEATH)
    with pytest.raises(ValidationError):
        services.record_death(elder=elder, death_date=DEATH - datetime.timedelta(days=1))


def test_no_new_category_after_death(elder):
    services.record_death(elder=elder, death_date=DEATH)
    elder.refresh_from_db()
    with pytest.raises(ValidationError):
        services.set_category(
            elder=elder, category="living_alone", start_date=DEATH + datetime.timedelta(days=1)
        )


# The owner of each consequence of a death, in the order record_death calls them.
DEATH_HANDLERS = [
    ("facilities", "facilities.services"),
    ("visits", "visits.services"),
    ("subsidies", "subsidies.batches"),
]


def test_death_calls_each_apps_handler_in_order(elder, monkeypatch):
    import importlib

    calls = []
    for app, module in DEATH_HANDLERS:
        monkeypatch.setattr(
            importlib.import_module(module),
            "handle_elder_death",
            lambda *, elder, death_date, app=app: calls.append((app, elder.pk, death_date)),
        )
    services.record_death(elder=elder, death_date=DEATH)
    assert calls == [(app, elder.pk, DEATH) for app, _ in DEATH_HANDLERS]


def test_a_death_handler_that_is_gone_fails_loudly(elder, monkeypatch):
    """Renaming a handler must not silently stop the allowance recoveries."""
    import subsidies.batches

    monkeypatch.delattr(subsidies.batches, "handle_elder_death")
    with pytest.raises(AttributeError):
        services.record_death(elder=elder, death_date=DEATH)
