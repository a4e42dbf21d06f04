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


def test_death_calls_each_apps_handler(elder, monkeypatch):
    import importlib

    calls = []
    for app in services.DEATH_HANDLER_APPS:
        module = importlib.import_module(f"{app}.services") if _has(app) else None
        if module is not None:
            monkeypatch.setattr(
                module,
                "handle_elder_death",
                lambda *, elder, death_date, app=app: calls.append((app, elder.pk, death_date)),
                raising=False,
            )
    services.record_death(elder=elder, death_date=DEATH)
    expected = [(app, elder.pk, DEATH) for app in services.DEATH_HANDLER_APPS if _has(app)]
    assert calls == expected


def _has(app):
    from importlib.util import find_spec

    return find_spec(f"{app}.services") is not None
