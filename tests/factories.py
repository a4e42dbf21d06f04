"""Factories shared by the whole suite (factory-boy). Each app appends its own section."""

import datetime

import factory

# --- residents ------------------------------------------------------------------------------


def elder_id_number(n: int) -> str:
    """A valid ID number: Xihu code, a birth date in 1930–1962, sequence from ``n``."""
    from residents.id_numbers import with_check_character

    birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=(n * 37) % 12000)
    return with_check_character(f"330106{birth:%Y%m%d}{n % 1000:03d}")


def _xihu():
    from regions.models import Region

    return Region.objects.get(code="330106")


class ElderFactory(factory.django.DjangoModelFactory):
    """An elder registered in Xihu, created through the service (the tree must be loaded: use
    the ``zhejiang`` fixture)."""

    class Meta:
        model = "residents.Elder"

    id_number = factory.Sequence(elder_id_number)
    name = factory.Sequence(lambda n: f"老人{n}")
    hukou_region = factory.LazyFunction(_xihu)
    residence_region = None
    phone = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from residents import services

        return services.create_elder(**kwargs)


class ElderCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "residents.ElderCategory"

    elder = factory.SubFactory(ElderFactory)
    category = "living_alone"
    start_date = datetime.date(2024, 1, 1)
    end_date = None
