"""Waiting lists of public institutions (docs/policy.md §5): precedence, then application date."""

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from facilities import services
from facilities.choices import ApplicationStatus, Precedence
from facilities.models import Application, Stay
from facilities.selectors import next_applicant, waiting_list
from facilities.services import StayConflict
from regions.models import Region
from residents.id_numbers import with_check_character
from residents.services import record_death, record_legacy_assessment, set_category
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date
ON = D(2024, 6, 1)


@pytest.fixture
def home(rulebook):
    return FacilityFactory(name="西湖区公办养老院", ownership="public")


def _applicant(facility, applied_on, *, categories=(), level=None, name=None):
    elder = ElderFactory(**({"name": name} if name else {}))
    for category in categories:
        set_category(elder=elder, category=category, start_date=D(2023, 1, 1))
    if level:
        record_legacy_assessment(
            elder=elder, assessed_on=D(2024, 1, 1), assessor="评估员", level=level
        )
    services.apply_for_place(facility=facility, elder=elder, applied_on=applied_on)
    return elder


def test_order_follows_policy_precedence_then_application_date(home):
    general = _applicant(home, D(2024, 1, 1))
    bravery = _applicant(home, D(2024, 1, 2), categories=["bravery_disabled"])
    veteran = _applicant(home, D(2024, 1, 3), categories=["veteran"])
    poor_disabled = _applicant(home, D(2024, 1, 4), categories=["minimum_living"], level="moderate")
    poor_not_disabled = _applicant(
        home, D(2024, 1, 4), categories=["minimum_living"], level="intact"
    )
    family_planning = _applicant(home, D(2024, 1, 5), categories=["lost_only_child"])
    destitute_late = _applicant(home, D(2024, 3, 1), categories=["destitute"])
    destitute_early = _applicant(home, D(2024, 2, 1), categories=["destitute"])

    entries = waiting_list(home, ON)
    assert [e.application.elder for e in entries] == [
        destitute_early,
        destitute_late,
        family_planning,
        poor_disabled,
        veteran,
        bravery,
        general,
        poor_not_disabled,  # 低保 but not disabled: general precedence, applied after `general`
    ]
    assert [e.rank for e in entries] == list(range(1, 9))
    assert entries[0].rule.precedence == Precedence.DESTITUTE
    assert "特困" in entries[0].explanation
    # Users read the documents, not our notes: the reason cites the document and paragraph.
    assert "浙政办发〔2022〕71号 §13" in entries[0].explanation
    assert "浙政办发〔2022〕71号 §8" in entries[6].explanation
    assert not any("policy.md" in e.explanation.lower() for e in entries)
    assert entries[2].rule.precedence == Precedence.FAMILY_PLANNING_SPECIAL


def test_anji_happy_care_places_80_plus_minimum_living_elders(rulebook):
    anji = Region.objects.get(code="330523")
    home = FacilityFactory(name="安吉县福利中心", region=anji)
    elder = ElderFactory(id_number=with_check_character("33010619400101001"))  # 84 on ON
    set_category(elder=elder, category="minimum_living", start_date=D(2023, 1, 1))
    services.apply_for_place(facility=home, elder=elder, applied_on=D(2024, 1, 1))
    assert waiting_list(home, ON)[0].rule.precedence == Precedence.ANJI_HAPPY_CARE

    xihu_home = FacilityFactory()
    services.apply_for_place(facility=xihu_home, elder=elder, applied_on=D(2024, 1, 1))
    assert waiting_list(xihu_home, ON)[0].rule.precedence == Precedence.GENERAL


def test_only_public_institutions_keep_waiting_lists(rulebook):
    private = FacilityFactory(ownership="private")
    with pytest.raises(ValidationError) as error:
        services.apply_for_place(facility=private, elder=ElderFactory(), applied_on=ON)
    assert "facility" in error.value.message_dict
    public_built = FacilityFactory(ownership="public_built_privately_run")
    services.apply_for_place(facility=public_built, elder=ElderFactory(), applied_on=ON)


def test_offer_and_admit_the_next_applicant(home):
    bed = BedFactory(facility=home)
    first = _applicant(home, D(2024, 1, 1), categories=["destitute"])
    _applicant(home, D(2024, 1, 1))
    entry = next_applicant(home, ON)
    assert entry.application.elder == first
    application = services.offer_bed(application=entry.application, bed=bed, on=ON)
    assert application.status == ApplicationStatus.OFFERED
    stay = services.admit_application(application=application, on=ON)
    application.refresh_from_db()
    assert (application.status, application.stay) == (ApplicationStatus.ADMITTED, stay)
    assert [e.application.elder for e in waiting_list(home, ON)] != [first]


def test_admitting_a_second_applicant_to_the_last_bed_is_refused(home):
    bed = BedFactory(facility=home, label="last")
    a = Application.objects.get(elder=_applicant(home, D(2024, 1, 1)))
    b = Application.objects.get(elder=_applicant(home, D(2024, 1, 2), name="孙八"))
    services.admit_application(application=b, bed=bed, on=ON)
    with pytest.raises(StayConflict, match="孙八"):
        services.admit_application(application=a, bed=bed, on=ON)
    a.refresh_from_db()
    assert a.status == ApplicationStatus.WAITING


def test_death_withdraws_open_applications(home):
    elder = _applicant(home, D(2024, 1, 1))
    record_death(elder=elder, death_date=ON)
    assert Application.objects.get(elder=elder).status == ApplicationStatus.WITHDRAWN
    assert waiting_list(home, ON) == []


@pytest.mark.postgres
def test_two_staff_admitting_to_the_last_bed_at_once_one_wins(transactional_db, zhejiang):
    """Real concurrent transactions on PostgreSQL: each thread has its own connection; both
    pass their checks' starting line together, the bed lock serialises them, and the loser gets
    a clear error naming the bed and the winner."""
    from django.core.management import call_command

    call_command("load_policies", verbosity=0)
    home = FacilityFactory()
    bed = BedFactory(facility=home, label="最后一床")
    applications = [
        services.apply_for_place(facility=home, elder=ElderFactory(), applied_on=D(2024, 1, n))
        for n in (1, 2)
    ]
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def admit(application):
        try:
            barrier.wait(timeout=60)
            outcomes[application.pk] = services.admit_application(
                application=application, bed=bed, on=ON
            )
        except Exception as error:  # recorded for the assertions below
            outcomes[application.pk] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=admit, args=(a,)) for a in applications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()

    results = list(outcomes.values())
    stays = [r for r in results if isinstance(r, Stay)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(stays) == 1 and len(errors) == 1, results
    assert isinstance(errors[0], StayConflict)
    assert "最后一床" in str(errors[0]) and stays[0].elder.name in str(errors[0])
    assert Stay.objects.filter(bed=bed).count() == 1
