"""Demonstration data for Xihu: institutions (one public), a street centre, community stations,
buildings, rooms and beds (some occupied by demonstration elders), caregivers with
certificates, a waiting list. Idempotent: skipped when already loaded; fixed random seed; bulk
inserts, services where the rules matter (admissions, applications, ratings)."""

from __future__ import annotations

import datetime
import random

from django.db import transaction
from simple_history.utils import bulk_create_with_history
from stdnum.cn import uscc

from facilities import services
from facilities.choices import BedType, CaregiverGrade, CertificateKind
from facilities.models import (
    Bed,
    Building,
    Caregiver,
    Certificate,
    Employment,
    Facility,
    Floor,
    Room,
)
from regions.models import Region
from residents.id_numbers import with_check_character
from residents.models import Elder, ElderCategory

SEED = 20240601
XIHU = "330106"
TODAY = datetime.date(2024, 6, 1)  # the demonstration's "today" for admissions and the list

# (name, kind, ownership, for_profit, inclusive, destitute, beds: [(type, count)], street idx)
FACILITIES = [
    (
        "西湖区社会福利中心",
        "institution",
        "public",
        False,
        True,
        True,
        [("nursing", 24), ("cognitive", 8), ("general", 8)],
        0,
    ),
    (
        "西湖区颐养院",
        "institution",
        "public_built_privately_run",
        False,
        True,
        False,
        [("nursing", 12), ("general", 12)],
        1,
    ),
    (
        "之江康养护理院",
        "institution",
        "private",
        True,
        False,
        False,
        [("nursing", 10), ("general", 10)],
        2,
    ),
    (
        "翠苑街道居家养老服务中心",
        "street_centre",
        "public",
        False,
        True,
        False,
        [("general", 6)],
        3,
    ),
    ("文新社区居家养老服务照料中心", "community_station", "public", False, True, False, [], 4),
    ("古荡社区居家养老服务照料中心", "community_station", "public", False, True, False, [], 5),
]


def _uscc(n: int) -> str:
    """A valid demonstration unified social credit code (GB 32100-2015 check characters)."""
    for org_check in "0123456789X":
        base = f"52{XIHU}MJ{n:06d}{org_check}"
        code = base + uscc.calc_check_digit(base)
        if uscc.is_valid(code):
            return code
    raise AssertionError(n)


@transaction.atomic
def load_demo(*, stdout) -> None:
    if Facility.objects.filter(name=FACILITIES[0][0]).exists():
        stdout.write("facilities: demonstration facilities already loaded")
        return
    rng = random.Random(SEED)
    xihu = Region.objects.get(code=XIHU)
    streets = list(Region.objects.filter(parent=xihu).order_by("code"))
    facilities = []
    for n, (name, kind, ownership, profit, inclusive, destitute, _, street) in enumerate(
        FACILITIES, start=1
    ):
        facilities.append(
            services.create_facility(
                name=name,
                kind=kind,
                ownership=ownership,
                is_for_profit=profit,
                is_inclusive=inclusive,
                is_destitute_support=destitute,
                region=streets[street % len(streets)] if streets else xihu,
                uscc=_uscc(n),
                licensed_beds=sum(c for _, c in FACILITIES[n - 1][6]),
                operator="西湖区民政局" if ownership == "public" else f"{name}运营有限公司",
            )
        )

    # Buildings, floors, rooms (two beds a room), beds: bulk.
    buildings = Building.objects.bulk_create(
        [
            Building(facility=f, name="1号楼")
            for f, spec in zip(facilities, FACILITIES, strict=True)
            if spec[6]
        ]
    )
    floors = Floor.objects.bulk_create(
        [Floor(building=b, number=n) for b in buildings for n in (1, 2)]
    )
    by_facility = {
        b.facility_id: [fl for fl in floors if fl.building_id == b.pk] for b in buildings
    }
    rooms, planned = [], []
    for facility, spec in zip(facilities, FACILITIES, strict=True):
        seq = 0
        for bed_type, count in spec[6]:
            for i in range(count):
                if i % 2 == 0:
                    seq += 1
                    floor = by_facility[facility.pk][seq % 2]
                    room = Room(floor=floor, number=f"{floor.number}{seq:02d}")
                    rooms.append(room)
                planned.append((facility, room, bed_type, f"{room.number}-{i % 2 + 1}"))
    Room.objects.bulk_create(rooms)
    beds = bulk_create_with_history(
        [Bed(facility=f, room=r, bed_type=t, label=label) for f, r, t, label in planned],
        Bed,
        batch_size=500,
    )
    # Home-care beds (家庭养老床位) served by the street centre.
    centre = facilities[3]
    home_beds = [
        services.create_bed(
            facility=centre,
            label=f"家床-{i}",
            bed_type=BedType.HOME_CARE,
            home_address=f"西湖区翠苑街道示范小区{i}幢",
        )
        for i in range(1, 4)
    ]
    beds = list(Bed.objects.filter(facility__in=facilities).exclude(bed_type=BedType.HOME_CARE))

    # Residents: demonstration elders, destitute ones first in the public centre.
    destitute = ElderCategory.objects.filter(category="destitute", end_date__isnull=True)
    candidates = list(
        Elder.objects.filter(death_date__isnull=True, hukou_region__path__startswith=xihu.path)
        .order_by("id")  # stable across runs
        .values_list("pk", flat=True)[:400]
    )
    destitute_ids = set(destitute.values_list("elder_id", flat=True))
    ordered = [pk for pk in candidates if pk in destitute_ids] + [
        pk for pk in candidates if pk not in destitute_ids
    ]
    elders = Elder.objects.in_bulk(ordered)
    admitted = 0
    occupied_beds = [b for b in beds if rng.random() < 0.7]
    for bed, elder_id in zip(occupied_beds, ordered, strict=False):
        services.admit_to_bed(
            elder=elders[elder_id],
            bed=bed,
            start_date=TODAY - datetime.timedelta(days=rng.randint(10, 900)),
        )
        admitted += 1
    rest = ordered[admitted:]
    for bed, elder_id in zip(home_beds, rest, strict=False):
        services.admit_to_bed(elder=elders[elder_id], bed=bed, start_date=TODAY)
        admitted += 1

    # A waiting list at the public centre.
    for i, elder_id in enumerate(ordered[admitted : admitted + 12]):
        services.apply_for_place(
            facility=facilities[0],
            elder=elders[elder_id],
            applied_on=TODAY - datetime.timedelta(days=200 - i * 13),
        )

    # Ratings.
    for facility, stars in zip(facilities, [5, 4, 3, 4, 3, 2], strict=True):
        services.record_rating(facility=facility, stars=stars, rated_on=datetime.date(2023, 3, 1))

    # Caregivers: bulk, with certificates and employment.
    caregivers = []
    for n in range(48):
        birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=(n * 97) % 9000)
        caregivers.append(
            Caregiver(
                name=f"护理员{n + 1:02d}",
                id_number=with_check_character(f"330106{birth:%Y%m%d}{700 + n:03d}"),
            )
        )
    caregivers = bulk_create_with_history(caregivers, Caregiver)
    caregivers = list(Caregiver.objects.filter(id_number__in=[c.id_number for c in caregivers]))
    grades = [g.value for g in CaregiverGrade]
    weights = [40, 30, 18, 8, 4]
    certificates, employments = [], []
    staffed = [f for f in facilities if f.kind in ("institution", "street_centre")]
    for n, caregiver in enumerate(caregivers):
        issued = datetime.date(2019, 1, 1) + datetime.timedelta(days=rng.randint(0, 1500))
        certificates.append(
            Certificate(
                caregiver=caregiver,
                kind=CertificateKind.CAREGIVER_SKILL,
                grade=rng.choices(grades, weights)[0],
                number=f"ZJ{issued:%Y}{n:05d}",
                issued_on=issued,
            )
        )
        if rng.random() < 0.72:
            certificates.append(
                Certificate(
                    caregiver=caregiver,
                    kind=CertificateKind.FIRST_AID,
                    issued_on=issued,
                    valid_until=issued + datetime.timedelta(days=3 * 365),
                )
            )
        employments.append(
            Employment(caregiver=caregiver, facility=staffed[n % len(staffed)], start_date=issued)
        )
    bulk_create_with_history(certificates, Certificate)
    bulk_create_with_history(employments, Employment)
    stdout.write(
        f"facilities: {len(facilities)} facilities, {len(beds) + len(home_beds)} beds, "
        f"{admitted} residents, 12 applications, {len(caregivers)} caregivers"
    )
