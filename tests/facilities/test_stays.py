"""One person, one bed, one code (docs/policy.md §4): the database and the services agree."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from facilities import services
from facilities.choices import StayEndReason
from facilities.models import Bed, Stay
from facilities.services import StayConflict
from residents.services import record_death
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date


@pytest.fixture
def facility(rulebook):
    return FacilityFactory(name="西湖区社会福利中心")


@pytest.fixture
def bed(facility):
    return BedFactory(facility=facility, label="301-1")


def test_bed_codes_are_unique_opaque_and_distinct_from_elder_codes(facility):
    beds = [BedFactory(facility=facility) for _ in range(5)]
    codes = {b.code for b in beds}
    assert len(codes) == 5
    assert all(c.startswith("B") and len(c) == 12 for c in codes)


def test_admission_creates_an_open_stay(bed):
    elder = ElderFactory()
    stay = services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 1))
    assert stay.end_date is None and stay.bed == bed and stay.elder == elder
    assert stay.history.count() == 1


def test_a_taken_bed_is_refused_naming_the_bed_and_the_occupant(bed):
    first, second = ElderFactory(name="张三"), ElderFactory(name="李四")
    services.admit_to_bed(elder=first, bed=bed, start_date=D(2024, 3, 1))
    with pytest.raises(StayConflict) as error:
        services.admit_to_bed(elder=second, bed=bed, start_date=D(2024, 3, 2))
    message = error.value.message_dict["bed"][0]
    assert "301-1" in message and bed.code in message and "张三" in message
    assert Stay.objects.filter(elder=second).count() == 0


def test_an_elder_with_a_bed_cannot_take_a_second_one(facility, bed):
    elder = ElderFactory(name="王五")
    other = BedFactory(facility=facility, label="302-1")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 1))
    with pytest.raises(StayConflict) as error:
        services.admit_to_bed(elder=elder, bed=other, start_date=D(2024, 4, 1))
    assert "王五" in error.value.message_dict["elder"][0]
    assert "301-1" in error.value.message_dict["elder"][0]


def test_database_refuses_a_second_open_stay_in_a_bed(bed):
    Stay.objects.create(elder=ElderFactory(), bed=bed, start_date=D(2024, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Stay.objects.create(elder=ElderFactory(), bed=bed, start_date=D(2024, 2, 1))


def test_database_refuses_a_second_open_stay_for_an_elder(facility, bed):
    elder = ElderFactory()
    Stay.objects.create(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Stay.objects.create(
            elder=elder, bed=BedFactory(facility=facility), start_date=D(2024, 1, 1)
        )


def test_database_refuses_an_end_before_the_start(bed):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stay.objects.create(
            elder=ElderFactory(),
            bed=bed,
            start_date=D(2024, 2, 1),
            end_date=D(2024, 1, 1),
            end_reason=StayEndReason.DISCHARGED,
        )


def test_backdated_admission_overlapping_a_closed_stay_is_refused(bed):
    first = ElderFactory()
    services.admit_to_bed(elder=first, bed=bed, start_date=D(2024, 1, 1))
    services.discharge(elder=first, end_date=D(2024, 3, 1))
    with pytest.raises(StayConflict):
        services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 2, 1))
    # From the discharge day the bed is free (periods are half-open).
    services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 3, 1))


def test_discharge_frees_the_bed(bed):
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    stay = services.discharge(elder=elder, end_date=D(2024, 2, 1))
    assert stay.end_date == D(2024, 2, 1) and stay.end_reason == StayEndReason.DISCHARGED
    services.admit_to_bed(elder=ElderFactory(), bed=bed, start_date=D(2024, 2, 1))


def test_discharge_without_a_bed_or_before_admission_is_refused(bed):
    elder = ElderFactory(name="赵六")
    with pytest.raises(ValidationError, match="赵六"):
        services.discharge(elder=elder, end_date=D(2024, 1, 1))
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 1))
    with pytest.raises(ValidationError) as error:
        services.discharge(elder=elder, end_date=D(2024, 2, 1))
    assert "end_date" in error.value.message_dict


def test_transfer_ends_one_stay_and_starts_the_next_the_same_day(facility, bed):
    elder = ElderFactory()
    target = BedFactory(facility=facility, label="401-2")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    new = services.transfer(elder=elder, to_bed=target, on=D(2024, 5, 1))
    old = Stay.objects.get(bed=bed)
    assert (old.end_date, old.end_reason) == (D(2024, 5, 1), StayEndReason.TRANSFERRED)
    assert (new.bed, new.start_date, new.end_date) == (target, D(2024, 5, 1), None)


def test_transfer_to_a_taken_bed_leaves_the_elder_where_they_were(facility, bed):
    elder, occupant = ElderFactory(), ElderFactory(name="钱七")
    target = BedFactory(facility=facility, label="401-2")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    services.admit_to_bed(elder=occupant, bed=target, start_date=D(2024, 1, 1))
    with pytest.raises(StayConflict) as error:
        services.transfer(elder=elder, to_bed=target, on=D(2024, 5, 1))
    assert "401-2" in str(error.value) and "钱七" in str(error.value)
    assert Stay.objects.get(elder=elder).end_date is None


def test_death_ends_the_stay_on_the_death_date(bed):
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    record_death(elder=elder, death_date=D(2024, 6, 10))
    stay = Stay.objects.get(elder=elder)
    assert (stay.end_date, stay.end_reason) == (D(2024, 6, 10), StayEndReason.DIED)
    with pytest.raises(ValidationError, match="死亡"):
        services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 7, 1))


def test_home_care_bed_is_at_home_with_an_address_and_no_room(facility):
    bed = BedFactory(facility=facility, bed_type="home_care", home_address="文三路1号")
    assert bed.room is None
    with pytest.raises(ValidationError) as error:
        BedFactory(facility=facility, bed_type="home_care", home_address="")
    assert "home_address" in error.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Bed.objects.create(facility=facility, label="X", bed_type="home_care")


@pytest.mark.postgres
def test_postgres_exclusion_constraint_refuses_overlapping_closed_stays(bed):
    elder, other = ElderFactory(), ElderFactory()
    Stay.objects.create(
        elder=elder,
        bed=bed,
        start_date=D(2024, 1, 1),
        end_date=D(2024, 3, 1),
        end_reason=StayEndReason.DISCHARGED,
    )
    with (
        pytest.raises(IntegrityError, match="stay_bed_periods_never_overlap"),
        transaction.atomic(),
    ):
        Stay.objects.create(
            elder=other,
            bed=bed,
            start_date=D(2024, 2, 1),
            end_date=D(2024, 2, 10),
            end_reason=StayEndReason.DISCHARGED,
        )
    # Touching periods do not overlap: [1 Jan, 1 Mar) and [1 Mar, …).
    Stay.objects.create(elder=other, bed=bed, start_date=D(2024, 3, 1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'btree_gist'")
        assert cursor.fetchone() == ("btree_gist",)


@pytest.mark.postgres
def test_postgres_exclusion_constraint_keeps_an_elders_stays_apart(facility, bed):
    elder = ElderFactory()
    Stay.objects.create(
        elder=elder,
        bed=bed,
        start_date=D(2024, 1, 1),
        end_date=D(2024, 3, 1),
        end_reason=StayEndReason.DISCHARGED,
    )
    with (
        pytest.raises(IntegrityError, match="stay_elder_periods_never_overlap"),
        transaction.atomic(),
    ):
        Stay.objects.create(
            elder=elder,
            bed=BedFactory(facility=facility),
            start_date=D(2024, 2, 1),
            end_date=D(2024, 2, 5),
            end_reason=StayEndReason.DISCHARGED,
        )
