import pytest


def _load():
    from servicelist.catalogue import load_items
    from servicelist.models import ServiceItem

    if not ServiceItem.objects.exists():
        load_items()


@pytest.fixture(scope="session")
def _service_items_loaded(django_db_setup, django_db_blocker):
    """The five lists' items, loaded once into the test database (as the rulebook is)."""
    with django_db_blocker.unblock():
        _load()


@pytest.fixture
def service_items(_service_items_loaded, rulebook):
    """The five lists' items, as `load_service_items` loads them (again only after a
    transactional test flushed the tables)."""
    from servicelist.models import ServiceItem

    _load()
    return ServiceItem.objects.all()
