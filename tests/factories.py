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


# --- visits ---------------------------------------------------------------------------------


class FieldWorkerFactory(factory.django.DjangoModelFactory):
    """A street or community worker who logs visits (a plain user; assign areas with
    VisitWorkerFactory)."""

    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"worker{n}")


class VisitWorkerFactory(factory.django.DjangoModelFactory):
    """An assignment to an area, through the service (area: a street/community Region)."""

    class Meta:
        model = "visits.VisitWorker"

    user = factory.SubFactory(FieldWorkerFactory)
    start_date = datetime.date(2024, 1, 1)
    end_date = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from visits import services

        return services.assign_worker(**kwargs)


# --- facilities -----------------------------------------------------------------------------


def credit_code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015, both check characters) of a company
    registered in Xihu, distinct for each ``n`` (an insurer's, a facility's)."""
    from stdnum.cn import uscc

    for org_check in "0123456789X":
        base = f"91330106MA{n:06d}{org_check}"
        code = base + uscc.calc_check_digit(base)
        if uscc.is_valid(code):
            return code
    raise AssertionError(n)


class FacilityFactory(factory.django.DjangoModelFactory):
    """A public care institution in Xihu, through the service (needs the ``zhejiang`` fixture)."""

    class Meta:
        model = "facilities.Facility"

    name = factory.Sequence(lambda n: f"测试养老院{n}")
    kind = "institution"
    ownership = "public"
    region = factory.LazyFunction(_xihu)
    licensed_beds = 100
    operator = "西湖区民政局"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from facilities import services

        return services.create_facility(**kwargs)


class RoomFactory(factory.django.DjangoModelFactory):
    """A room on floor 1 of building "1号楼" of a facility."""

    class Meta:
        model = "facilities.Room"

    number = factory.Sequence(lambda n: f"{100 + n}")

    @classmethod
    def _create(cls, model_class, *args, facility=None, **kwargs):
        from facilities.models import Building, Floor

        facility = facility or FacilityFactory()
        building, _ = Building.objects.get_or_create(facility=facility, name="1号楼")
        floor, _ = Floor.objects.get_or_create(building=building, number=1)
        return model_class.objects.create(floor=floor, **kwargs)


class BedFactory(factory.django.DjangoModelFactory):
    """An institution bed in its own room, through the service."""

    class Meta:
        model = "facilities.Bed"

    facility = factory.SubFactory(FacilityFactory)
    label = factory.Sequence(lambda n: f"B{n}")
    bed_type = "general"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from facilities import services

        if "room" not in kwargs and kwargs.get("bed_type") != "home_care":
            kwargs["room"] = RoomFactory(facility=kwargs["facility"])
        return services.create_bed(**kwargs)


class CaregiverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "facilities.Caregiver"

    name = factory.Sequence(lambda n: f"护理员{n}")
    id_number = factory.Sequence(lambda n: elder_id_number(n + 500))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from facilities import services

        return services.register_caregiver(**kwargs)


# --- servicelist --------------------------------------------------------------------------------


def _cuiyuan():
    from regions.models import Region

    return Region.objects.get(code="330106004001")


class MealPointFactory(factory.django.DjangoModelFactory):
    """A meal point (助餐点) open since 2024 in 翠苑 (needs the ``zhejiang`` fixture)."""

    class Meta:
        model = "servicelist.MealPoint"

    name = factory.Sequence(lambda n: f"测试助餐点{n}")
    kind = "meal_point"
    region = factory.LazyFunction(_cuiyuan)
    opened_on = datetime.date(2024, 1, 1)
