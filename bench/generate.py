#!/usr/bin/env python
"""Synthetic elders at province scale, for the benchmarks.

    python bench/generate.py --elders 1000000 --database-url postgres://…/eldercare_bench --reset

Loads the administrative tree, the rulebook and the schemes first (idempotent), then adds N
elders with valid ID numbers (GB 11643: the region code of a real county, the birth date, a
sequence whose parity is the sex, the MOD 11-2 check character), an ageing pyramid (60+, about
one in eight aged 80+, a few hundred centenarians per million), pensions, deaths, categories
with their periods, registration and residence spread over Xihu's streets and communities and
Zhejiang's counties; institutions with buildings, rooms, beds and stays; visits to elders living
alone, alone and childless, or with an empty nest.

On PostgreSQL rows are written with COPY (psycopg), so a million elders take minutes; elsewhere
(the test database on SQLite) with ``bulk_create``. Ids are assigned here and the sequences
moved past them. History tables are not written: the rows are synthetic, never edited.
``--reset`` drops and recreates the database (PostgreSQL only); without it the elders are added
to what is there. The random seed fixes everything but the row ids.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from residents.ages import add_years  # noqa: E402 (the project's one age rule; plain Python)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_SEED = 20240130

# Centenarians per elder: "a few hundred per million" (Zhejiang counts about 4,000 among its
# 14 million aged 60+, about 300 per million).
CENTENARIAN_RATE = 0.0003
# Share of elders registered in Xihu (at its communities); the rest over Zhejiang's counties.
DEFAULT_XIHU_SHARE = 0.15
# Codes an ID number of a Xihu elder may carry: the district's own, or the former 下城/江干
# districts (abolished in 2021) where many were first registered.
XIHU_ID_CODES = ["330106"] * 8 + ["330103", "330104"]
PENSIONS = (("employee", 0.62), ("resident", 0.30), ("none", 0.08))
DEATH_RATE = 0.03  # elders in the registry who died in the last two years
CLOSED_CATEGORY_RATE = 0.1  # category periods that have ended
ELDERS_PER_INSTITUTION = 7000  # about 2,000 institutions for 14 million elders
ELDERS_PER_STATION = 700  # community stations
INSTITUTION_BEDS = (60, 220)
OCCUPANCY = 0.6
VISITED_CATEGORIES = ("living_alone", "childless_alone", "empty_nest")
VISITS_PER_ELDER = (1, 3)
VISIT_WORKER = "bench_visitor"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
HANGZHOU_LAT_LON = (30.26, 120.12)


def setup_django(database_url: str | None = None) -> None:
    """Configure Django for a command-line run against ``database_url`` (default: the
    environment's DATABASE_URL), with DEBUG off so that no query log grows."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def ensure_database(database_url: str, *, reset: bool) -> None:
    """Create the PostgreSQL database of ``database_url`` if missing; drop it first if
    ``reset``. Nothing to do for SQLite."""
    from urllib.parse import urlsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        if reset:
            raise SystemExit("--reset needs a PostgreSQL database")
        return
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if exists and reset:
            connection.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )
            exists = None
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def load_reference_data() -> None:
    """Regions, rulebook, rules and schemes: the generator spreads elders over real regions."""
    from io import StringIO

    from django.core.management import call_command

    quiet = StringIO()
    call_command("migrate", verbosity=0, stdout=quiet)
    call_command("load_regions", stdout=quiet)
    call_command("load_policies", stdout=quiet)
    call_command("load_eligibility", stdout=quiet)
    call_command("load_schemes", stdout=quiet)


# --- pure generation ------------------------------------------------------------------------


def opaque_code(prefix: str, number: int, length: int, salt: int) -> str:
    """A code that looks random but is a bijection of ``number`` (so never collides among
    generated rows): an affine map modulo 31**length, written in the label alphabet."""
    base = len(CODE_ALPHABET)
    space = base**length
    value = (number * 1_000_003 + salt) % space  # 1,000,003 is prime, so coprime to 31**n
    chars = []
    for _ in range(length):
        value, digit = divmod(value, base)
        chars.append(CODE_ALPHABET[digit])
    return prefix + "".join(reversed(chars))


@dataclass
class Place:
    """Where an elder is registered: a community of Xihu or a county elsewhere."""

    hukou_id: int
    county_id: int
    id_codes: Sequence[str]
    neighbours: Sequence[int]  # residence candidates (other communities of the district)


@dataclass
class Generated:
    elders: list[tuple] = field(default_factory=list)
    categories: list[tuple] = field(default_factory=list)
    facilities: list[tuple] = field(default_factory=list)
    buildings: list[tuple] = field(default_factory=list)
    floors: list[tuple] = field(default_factory=list)
    rooms: list[tuple] = field(default_factory=list)
    beds: list[tuple] = field(default_factory=list)
    stays: list[tuple] = field(default_factory=list)
    visits: list[tuple] = field(default_factory=list)
    facility_county: dict[int, int] = field(default_factory=dict)


ELDER_COLUMNS = (
    "id",
    "id_number",
    "name",
    "sex",
    "birth_date",
    "phone",
    "hukou_region_id",
    "residence_region_id",
    "pension_type",
    "death_date",
    "elder_code",
    # No generated elder holds a disability certificate; COPY sets every column it names, and
    # Django's field defaults are not the database's.
    "disability_category",
    "disability_grade",
    "created_at",
    "updated_at",
)
CATEGORY_COLUMNS = ("elder_id", "category", "start_date", "end_date", "note")
ACCOUNT_COLUMNS = (
    "elder_id",
    "channel",
    "bank",
    "account_number_encrypted",
    "account_last4",
    "holder_name",
    "updated_at",
)
FACILITY_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "ownership",
    "is_for_profit",
    "is_inclusive",
    "is_destitute_support",
    "is_veterans_home",
    "region_id",
    "uscc",
    "licensed_beds",
    "operator",
    "address",
    "is_active",
)
BUILDING_COLUMNS = ("id", "facility_id", "name")
FLOOR_COLUMNS = ("id", "building_id", "number")
ROOM_COLUMNS = ("id", "floor_id", "number")
BED_COLUMNS = (
    "id",
    "facility_id",
    "room_id",
    "label",
    "bed_type",
    "home_address",
    "code",
    "is_active",
)
STAY_COLUMNS = ("elder_id", "bed_id", "start_date", "end_date", "end_reason", "created_at")
VISIT_COLUMNS = (
    "uuid",
    "elder_id",
    "worker_id",
    "visited_at",
    "mode",
    "outcome",
    "needs",
    "notes",
    "latitude",
    "longitude",
    "received_at",
)


class ElderFactory:
    """Draws elders one by one from the pyramid and the rates (residents/demo.py's, which
    are the demonstration district's believable shares)."""

    def __init__(self, rng: random.Random, today: datetime.date):
        from residents.demo import AGE_PYRAMID, CATEGORY_RATES, GIVEN, HOUSEHOLD_RATES, SURNAMES

        self.rng = rng
        self.today = today
        self.bands = AGE_PYRAMID
        self.band_weights = [share for *_, share in AGE_PYRAMID]
        self.category_rates = [(str(c), r) for c, r in CATEGORY_RATES.items()]
        self.household_rates = [(str(c), r) for c, r in HOUSEHOLD_RATES]
        self.surnames = SURNAMES
        self.given = GIVEN
        # The latest birth date for each completed age on ``today``.
        self.latest_birth = {age: add_years(today, -age) for age in range(60, 112)}
        self.sequences: dict[tuple[str, int], int] = {}

    def age(self) -> int:
        rng = self.rng
        if rng.random() < CENTENARIAN_RATE:
            return min(100 + int(rng.expovariate(0.45)), 110)
        low, high, _ = rng.choices(self.bands, weights=self.band_weights)[0]
        return rng.randint(low, high)

    def birth_date(self, age: int) -> datetime.date:
        return self.latest_birth[age] - datetime.timedelta(days=self.rng.randint(0, 364))

    def id_number(self, codes: Sequence[str], birth: datetime.date, male: bool) -> str:
        """A valid number, unique among the generated ones: the sequence (three digits, odd
        for men) counts up per region code and birth date."""
        from stdnum.iso7064 import mod_11_2

        for _ in range(20):
            code = self.rng.choice(codes)
            key = (code, birth.toordinal())
            count = self.sequences.get(key)
            if count is None:
                count = self.rng.randrange(0, 200)
            self.sequences[key] = count + 1
            sequence = count * 2 + (1 if male else 0)
            if sequence < 1000:
                first17 = f"{code}{birth:%Y%m%d}{sequence:03d}"
                return first17 + mod_11_2.calc_check_digit(first17)
        raise RuntimeError(f"no ID sequence left for {birth}")

    def name(self) -> str:
        rng = self.rng
        return rng.choice(self.surnames) + "".join(
            rng.choice(self.given) for _ in range(rng.choice((1, 2, 2)))
        )

    def phone(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            return ""
        if roll < 0.3:
            return f"0571-8{rng.randint(0, 9999999):07d}"
        return f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"

    def pension(self) -> str:
        roll = self.rng.random()
        for value, share in PENSIONS:
            if roll < share:
                return value
            roll -= share
        return PENSIONS[-1][0]

    def categories(self, age: int) -> list[str]:
        rng = self.rng
        held = []
        roll = rng.random()
        for category, rate in self.household_rates:  # mutually exclusive
            if roll < rate:
                held.append(category)
                break
            roll -= rate
        for category, rate in self.category_rates:
            if rng.random() < rate:
                held.append(category)
        if "lost_only_child" in held or rng.random() < 0.006:
            held.append("family_planning_special")
        if rng.random() < (0.01 if age < 75 else 0.05 if age < 85 else 0.15):
            held.append("cognitive_impairment")
        return held


def generate_rows(
    *,
    elders: int,
    places: Sequence[Place],
    place_weights: Sequence[float],
    first_ids: dict[str, int],
    worker_id: int,
    today: datetime.date,
    seed: int = DEFAULT_SEED,
) -> Generated:
    """Every row to write, with ids assigned from ``first_ids`` (per table). Pure: no
    database access, so the same seed gives the same rows."""
    rng = random.Random(seed)
    factory = ElderFactory(rng, today)
    out = Generated()
    now = datetime.datetime.combine(today, datetime.time(9), tzinfo=SHANGHAI)
    registry_start = datetime.date(2016, 1, 1).toordinal()
    category_floor = datetime.date(2010, 1, 1)
    chosen_places = rng.choices(places, weights=place_weights, k=elders)
    alive_old_by_county: dict[int, list[int]] = {}
    dead: list[tuple[int, datetime.date, int]] = []  # (elder id, death date, county)
    visited: list[tuple[int, int]] = []  # (elder id, hukou region) of those visited
    elder_id = first_ids["elder"]
    for place in chosen_places:
        age = factory.age()
        male_share = max(0.3, 0.5 - 0.006 * (age - 60))
        male = rng.random() < male_share
        birth = factory.birth_date(age)
        number = factory.id_number(place.id_codes, birth, male)
        death = None
        if rng.random() < DEATH_RATE * (1 + max(0, age - 75) / 10):
            death = today - datetime.timedelta(days=rng.randint(1, 730))
            if death < add_years(birth, 60):
                death = None
        residence = place.hukou_id
        if place.neighbours and rng.random() < 0.15:
            residence = rng.choice(place.neighbours)
        registered = datetime.date.fromordinal(rng.randint(registry_start, today.toordinal() - 60))
        created = datetime.datetime.combine(registered, datetime.time(10), tzinfo=SHANGHAI)
        out.elders.append(
            (
                elder_id,
                number,
                factory.name(),
                "M" if male else "F",
                birth,
                factory.phone(),
                place.hukou_id,
                residence,
                factory.pension(),
                death,
                opaque_code("E", elder_id, 11, seed),
                "",
                None,
                created,
                created,
            )
        )
        sixty = max(add_years(birth, 60), category_floor)
        visit_me = False
        for category in factory.categories(age):
            latest = (death or today) - datetime.timedelta(days=30)
            if latest <= sixty:
                continue
            start = datetime.date.fromordinal(rng.randint(sixty.toordinal(), latest.toordinal()))
            end = death
            if end is None and rng.random() < CLOSED_CATEGORY_RATE:
                end = datetime.date.fromordinal(rng.randint(start.toordinal(), latest.toordinal()))
            out.categories.append((elder_id, category, start, end, ""))
            if category in VISITED_CATEGORIES and end is None:
                visit_me = True
        if death is not None:
            dead.append((elder_id, death, place.county_id))
        elif age >= 75:
            alive_old_by_county.setdefault(place.county_id, []).append(elder_id)
        if visit_me:
            visited.append((elder_id, place.hukou_id))
        elder_id += 1

    _facilities(out, rng, elders, places, place_weights, first_ids, today, now, seed)
    _stays(out, rng, alive_old_by_county, dead, today, now)
    _visits(out, rng, visited, worker_id, today)
    return out


def _facilities(out, rng, elders, places, weights, first_ids, today, now, seed) -> None:
    institutions = max(1, round(elders / ELDERS_PER_INSTITUTION))
    stations = round(elders / ELDERS_PER_STATION)
    ids = dict(first_ids)
    for number in range(institutions + stations):
        place = rng.choices(places, weights=weights)[0]
        is_institution = number < institutions
        ownership = rng.choices(
            ["public", "public_built_privately_run", "private"], [0.35, 0.25, 0.4]
        )[0]
        facility_id = ids["facility"]
        ids["facility"] += 1
        out.facility_county[facility_id] = place.county_id
        beds = rng.randint(*INSTITUTION_BEDS) // 2 * 2 if is_institution else 0
        kind = "institution" if is_institution else "community_station"
        name = f"合成{'养老院' if is_institution else '居家养老服务照料中心'}{facility_id:05d}"
        out.facilities.append(
            (
                facility_id,
                opaque_code("F", facility_id, 7, seed),
                name,
                kind,
                ownership,
                ownership == "private" and rng.random() < 0.5,
                ownership != "private" or rng.random() < 0.3,
                is_institution and ownership == "public" and rng.random() < 0.3,
                False,
                place.hukou_id,
                "",
                beds,
                "" if ownership == "public" else f"{name}运营有限公司",
                "",
                True,
            )
        )
        if not beds:
            continue
        # Two beds a room, ten rooms a floor, up to six floors a building.
        rooms_needed = beds // 2
        building_no = 0
        while rooms_needed > 0:
            building_no += 1
            building_id = ids["building"]
            ids["building"] += 1
            out.buildings.append((building_id, facility_id, f"{building_no}号楼"))
            for floor_no in range(1, 7):
                if rooms_needed <= 0:
                    break
                floor_id = ids["floor"]
                ids["floor"] += 1
                out.floors.append((floor_id, building_id, floor_no))
                for room_no in range(1, 11):
                    if rooms_needed <= 0:
                        break
                    rooms_needed -= 1
                    room_id = ids["room"]
                    ids["room"] += 1
                    label = f"{building_no}-{floor_no}{room_no:02d}"
                    out.rooms.append((room_id, floor_id, label))
                    for side in "AB":
                        bed_id = ids["bed"]
                        ids["bed"] += 1
                        bed_type = rng.choices(
                            ["nursing", "general", "cognitive"], [0.55, 0.35, 0.1]
                        )[0]
                        out.beds.append(
                            (
                                bed_id,
                                facility_id,
                                room_id,
                                f"{label}{side}",
                                bed_type,
                                "",
                                opaque_code("B", bed_id, 11, seed),
                                True,
                            )
                        )
    first_ids.update(ids)


def _stays(out, rng, alive_old_by_county, dead, today, now) -> None:
    """Open stays for about 60% of beds, taken by elders aged 75+ of the facility's county
    (any county when it has none left); before some of them, a closed stay of an elder who
    died in that bed, ended on the death date, so periods never overlap."""
    county_of_facility = out.facility_county
    pools = {county: list(ids) for county, ids in alive_old_by_county.items()}
    for pool in pools.values():
        rng.shuffle(pool)
    spare = [e for pool in pools.values() for e in pool[len(pool) // 2 :]]
    rng.shuffle(spare)
    dead = list(dead)
    rng.shuffle(dead)
    for bed in out.beds:
        if rng.random() >= OCCUPANCY:
            continue
        facility_id = bed[1]
        pool = pools.get(county_of_facility.get(facility_id)) or spare
        if not pool:
            continue
        elder_id = pool.pop()
        start = today - datetime.timedelta(days=rng.randint(1, 1500))
        if dead and rng.random() < 0.3:
            previous, death, _ = dead.pop()
            start = min(today, death + datetime.timedelta(days=rng.randint(1, 60)))
            out.stays.append(
                (
                    previous,
                    bed[0],
                    death - datetime.timedelta(days=rng.randint(30, 900)),
                    death,
                    "died",
                    now,
                )
            )
        out.stays.append((elder_id, bed[0], start, None, "", now))
    # A stay per elder at most: pools and the spare list share elders, so drop repeats.
    seen: set[int] = set()
    unique = []
    for stay in out.stays:
        if stay[0] in seen:
            continue
        seen.add(stay[0])
        unique.append(stay)
    out.stays = unique


def _visits(out, rng, visited, worker_id, today) -> None:
    base_lat, base_lon = HANGZHOU_LAT_LON
    for elder_id, _ in visited:
        for _ in range(rng.randint(*VISITS_PER_ELDER)):
            day = today - datetime.timedelta(days=rng.randint(0, 89))
            at = datetime.datetime.combine(
                day, datetime.time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=SHANGHAI
            )
            mode = rng.choices(["home", "phone", "video"], [0.6, 0.35, 0.05])[0]
            outcome = rng.choices(["seen_well", "not_at_home", "in_hospital"], [0.9, 0.07, 0.03])[0]
            located = mode == "home" and rng.random() < 0.7
            latitude = f"{base_lat + rng.uniform(-0.3, 0.3):.6f}" if located else None
            longitude = f"{base_lon + rng.uniform(-0.3, 0.3):.6f}" if located else None
            out.visits.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    elder_id,
                    worker_id,
                    at,
                    mode,
                    outcome,
                    "[]",
                    "",
                    latitude,
                    longitude,
                    at + datetime.timedelta(minutes=rng.randint(1, 120)),
                )
            )


# --- reading the places, writing the rows ---------------------------------------------------


def places_and_weights(xihu_share: float) -> tuple[list[Place], list[float]]:
    """Xihu's communities (registration there, residence there or in a neighbouring
    community) and Zhejiang's active counties other than Xihu (registration and residence at
    the county: their streets are not loaded)."""
    from regions.models import Region

    xihu = Region.objects.get(code="330106")
    communities = list(
        Region.objects.within(xihu).filter(level="community", is_active=True).order_by("code")
    )
    counties = list(
        Region.objects.filter(level="county", is_active=True, code__startswith="33")
        .exclude(pk=xihu.pk)
        .order_by("code")
    )
    if not communities or not counties:
        raise SystemExit("the administrative tree is not loaded (manage.py load_regions)")
    neighbours = [c.pk for c in communities]
    places = [Place(c.pk, xihu.pk, XIHU_ID_CODES, neighbours) for c in communities]
    weights = [xihu_share / len(communities)] * len(communities)
    for county in counties:
        places.append(Place(county.pk, county.pk, [county.code], ()))
        weights.append((1 - xihu_share) / len(counties))
    return places, weights


def _next_ids() -> dict[str, int]:
    from django.db.models import Max

    from facilities.models import Bed, Building, Facility, Floor, Room
    from residents.models import Elder

    models = {
        "elder": Elder,
        "facility": Facility,
        "building": Building,
        "floor": Floor,
        "room": Room,
        "bed": Bed,
    }
    return {
        name: (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        for name, model in models.items()
    }


def _visit_worker_id() -> int:
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=VISIT_WORKER, defaults={"first_name": "合成探访员"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user.pk


def write_rows(model, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """COPY on PostgreSQL; ``bulk_create`` elsewhere. Returns the number of rows."""
    from django.db import connection

    table = model._meta.db_table
    rows = list(rows) if not isinstance(rows, list) else rows
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor: COPY is not in the DB-API
            column_list = ", ".join(f'"{c}"' for c in columns)
            with raw.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500
        )
    return len(rows)


def _move_sequences(models) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def payee_accounts(elders: list[tuple]) -> list[tuple]:
    """A bank card for every elder (cash goes nowhere without an account), encrypted as the
    project stores it: a Luhn-valid 19-digit number derived from the elder's id."""
    from stdnum import luhn

    from subsidies import account_crypto

    rows = []
    for elder in elders:
        elder_id, name, created = elder[0], elder[2], elder[-1]
        body = f"622202{elder_id:012d}"
        number = body + luhn.calc_check_digit(body)
        secret = account_crypto.encrypt(number, account_crypto.payee_ref("elder", elder_id))
        rows.append((elder_id, "bank_card", "测试银行", secret, number[-4:], name, created))
    return rows


def generate(
    *,
    elders: int,
    seed: int = DEFAULT_SEED,
    today: datetime.date | None = None,
    xihu_share: float = DEFAULT_XIHU_SHARE,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Generate and write ``elders`` elders with their categories, facilities, beds, stays
    and visits into the configured database; returns the row counts."""
    from django.db import connection, transaction
    from django.utils import timezone

    from facilities.models import Bed, Building, Facility, Floor, Room, Stay
    from residents.models import Elder, ElderCategory
    from subsidies.models import PayeeAccount
    from visits.models import Visit

    today = today or timezone.localdate()
    started = time.perf_counter()
    places, weights = places_and_weights(xihu_share)
    first_ids = _next_ids()
    worker_id = _visit_worker_id()
    rows = generate_rows(
        elders=elders,
        places=places,
        place_weights=weights,
        first_ids=first_ids,
        worker_id=worker_id,
        today=today,
        seed=seed,
    )
    accounts = payee_accounts(rows.elders)
    generated = time.perf_counter()
    log(f"generated rows in {generated - started:.1f} s")
    plan = [
        ("elders", Elder, ELDER_COLUMNS, rows.elders),
        ("categories", ElderCategory, CATEGORY_COLUMNS, rows.categories),
        ("payee accounts", PayeeAccount, ACCOUNT_COLUMNS, accounts),
        ("facilities", Facility, FACILITY_COLUMNS, rows.facilities),
        ("buildings", Building, BUILDING_COLUMNS, rows.buildings),
        ("floors", Floor, FLOOR_COLUMNS, rows.floors),
        ("rooms", Room, ROOM_COLUMNS, rows.rooms),
        ("beds", Bed, BED_COLUMNS, rows.beds),
        ("stays", Stay, STAY_COLUMNS, rows.stays),
        ("visits", Visit, VISIT_COLUMNS, rows.visits),
    ]
    counts = {}
    with transaction.atomic():
        for label, model, columns, table_rows in plan:
            begun = time.perf_counter()
            counts[label] = write_rows(model, columns, table_rows)
            log(f"  {label}: {counts[label]:,} rows in {time.perf_counter() - begun:.1f} s")
        _move_sequences([model for _, model, _, _ in plan])
    if connection.vendor == "postgresql":
        begun = time.perf_counter()
        # VACUUM as well as ANALYZE: a fresh bulk load has no visibility map, and without it
        # counts and OFFSET scans cannot be answered from the indexes alone (a street filter's
        # count took 480 ms instead of 8 ms at a million elders). VACUUM cannot run inside a
        # transaction (a test's, say): there, statistics are all we can give.
        statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            cursor.execute(statement)
        log(f"  vacuum and analyze: {time.perf_counter() - begun:.1f} s")
    total = time.perf_counter() - started
    log(
        f"{elders:,} elders generated and written in {total:.1f} s ({elders / total:,.0f} elders/s)"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elders", type=int, required=True, help="how many elders to add")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="target database (default: the environment's DATABASE_URL)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--reset", action="store_true", help="drop and recreate the database first (PostgreSQL)"
    )
    parser.add_argument("--xihu-share", type=float, default=DEFAULT_XIHU_SHARE)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    began = time.perf_counter()
    ensure_database(args.database_url, reset=args.reset)
    setup_django(args.database_url)
    load_reference_data()
    print(f"database ready in {time.perf_counter() - began:.1f} s")
    generate(elders=args.elders, seed=args.seed, xihu_share=args.xihu_share)
    print(f"total {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
