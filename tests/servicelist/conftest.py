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


@pytest.fixture(params=["in_memory", "sql"])
def coverage_reading(request, settings):
    """Coverage read both ways, for the same figures: the area's elders held in memory (a
    street, a district) and each item counted in SQL (an area above
    SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS, a province)."""
    if request.param == "sql":
        settings.SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS = 0
    return request.param
