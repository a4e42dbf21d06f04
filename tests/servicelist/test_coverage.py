"""Coverage and "the policy finds the person": per item in force in an area and period, the
entitled, the reached, the rate and the named list of those not reached — set-based, and equal
to a slow reading elder by elder (docs/policy.md §7 — 000 三(二))."""

import csv
import datetime
import io
import uuid
from itertools import count

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck as Health
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from regions import conditions
from regions.models import Region
from residents.ages import add_years
from residents.assessment_rules import ITEMS
from residents.choices import AssessmentStandard
from residents.models import AbilityAssessment, Elder, ElderCategory
from servicelist.choices import ReachedThrough
from servicelist.coverage import (
    alive_on,
    coverage,
    evaluation_day,
    lineage,
    lives_in,
    parse_period,
    reached_elders,
)
from servicelist.models import (
    HomeAdaptation,
    HomeCareBed,
    HomeCareBedVisit,
    MealPoint,
    MealService,
    ServiceDelivery,
    ServiceItem,
)
from servicelist.selectors import items_in_force
from subsidies.choices import BatchKind, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.payees import set_payee_account
from tests.subsidies.conftest import card_number_for
from visits.models import HealthCheck, Visit, VisitWorker

D = datetime.date
_serial = count(1)


def region(code):
    return Region.objects.get(code=code)


@pytest.fixture
def schemes(service_items):
    from subsidies.schemes import load_schemes

    load_schemes()
    return {s.code: s for s in Scheme.objects.all()}


def make_elder(
    birth, *, hukou="330106004001", residence="330106004001", name="测试", account=True, **extra
):
    """An elder; with a bank card unless ``account=False`` (cash to an elder with no account
    is held, and reaches nobody)."""
    serial = next(_serial)
    elder = Elder.objects.create(
        id_number=f"T{serial:017d}",
        name=name,
        sex="F",
        birth_date=birth,
        hukou_region=region(hukou),
        residence_region=region(residence) if residence else None,
        pension_type=extra.get("pension", "none"),
        death_date=extra.get("death"),
    )
    if account:
        set_payee_account(
            payee=elder,
            channel="bank_card",
            bank="工商银行",
            account_number=card_number_for(serial),
        )
    return elder


def pay(elder, scheme, period, status=LineStatus.PENDING):
    batch, _ = PaymentBatch.objects.get_or_create(
        region=region("330106"), period=period, kind=BatchKind.REGULAR
    )
    return PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=period,
        elder=elder,
        amount=60,
        kind=LineKind.NORMAL,
        status=status,
    )


def visit(elder, worker, on):
    return Visit.objects.create(
        elder=elder,
        worker=worker,
        visited_at=datetime.datetime(on.year, on.month, on.day, 10, tzinfo=datetime.UTC),
        mode="home",
        outcome="seen_well",
    )


def deliver(elder, code, on, provider="送报员"):
    return ServiceDelivery.objects.create(
        item=ServiceItem.objects.get(code=code),
        elder=elder,
        delivered_on=on,
        provider_name=provider,
        source="manual",
    )


def serve_meals(elder, on):
    """A meal at a meal point: a delivery of Xihu's 助餐 item with its meal record."""
    point, _created = MealPoint.objects.get_or_create(
        name="食堂",
        region=region("330106004001"),
        defaults={"kind": "canteen", "opened_on": D(2020, 1, 1)},
    )
    delivery = deliver(elder, "330106:10", on, provider="食堂")
    MealService.objects.create(delivery=delivery, meal_point=point, meals=1)


def adapt(elder, on):
    """A home adaptation applied for, approved, and finished on ``on`` (its delivery)."""
    HomeAdaptation.objects.create(
        elder=elder,
        item=ServiceItem.objects.get(code="330000:8"),
        applied_on=on - datetime.timedelta(days=30),
        assessed_on=on - datetime.timedelta(days=10),
        assessment="approved",
        completed_on=on,
        delivery=deliver(elder, "330000:8", on, provider="改造公司"),
    )


def visit_bed(elder, on):
    """A home-care bed (Xihu's 养老一张床) set up before the year and visited on ``on``."""
    bed = HomeCareBed.objects.create(
        elder=elder,
        item=ServiceItem.objects.get(code="330106:21"),
        provider_name="护理站",
        set_up_on=D(2023, 12, 1),
    )
    HomeCareBedVisit.objects.create(
        bed=bed, delivery=deliver(elder, "330106:21", on, provider="护理站")
    )


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def june(schemes):
    """Cuiyuan, June 2024: two 80+ elders (one paid), two living alone (one visited, by a
    worker of another street), a newspaper delivered."""
    worker = User.objects.create_user("beishan-visitor")
    VisitWorker.objects.create(user=worker, area=region("330106001"), start_date=D(2024, 1, 1))
    paid = make_elder(D(1940, 3, 1), name="已领津贴")
    unpaid = make_elder(D(1942, 5, 1), name="=HYPERLINK(1)")
    alone_seen = make_elder(D(1960, 1, 1), name="独居已访")
    alone_missed = make_elder(D(1961, 1, 1), name="独居未访")
    for elder in (alone_seen, alone_missed):
        ElderCategory.objects.create(elder=elder, category="living_alone", start_date=D(2020, 1, 1))
    pay(paid, schemes["high_age_80_89"], D(2024, 6, 1))
    pay(unpaid, schemes["high_age_80_89"], D(2024, 6, 1), status=LineStatus.CANCELLED)
    visit(alone_seen, worker, D(2024, 6, 15))
    visit(alone_missed, worker, D(2024, 7, 1))  # outside the period
    deliver(paid, "330106:17", D(2024, 6, 2))
    return {"paid": paid, "unpaid": unpaid, "seen": alone_seen, "missed": alone_missed}


def test_coverage_counts_each_item_where_it_is_delivered(june, tmp_path, coverage_reading):
    output, missed = tmp_path / "coverage.csv", tmp_path / "missed.csv"
    call_command(
        "service_coverage",
        "--region=330106004",
        "--period=2024-06",
        "--format=csv",
        f"--output={output}",
        f"--not-reached={missed}",
    )
    rows = {r["item"]: r for r in read_csv(output)}
    assert list(read_csv(output)[0]) == ["item", "name", "kind", "entitled", "reached", "rate"]
    assert len(rows) == len(items_in_force(region("330106004"), D(2024, 6, 1), D(2024, 6, 30)))
    assert (rows["330106:15"]["entitled"], rows["330106:15"]["reached"]) == ("2", "1")
    assert rows["330106:15"]["rate"] == "0.5000"
    assert (rows["330106:26"]["entitled"], rows["330106:26"]["reached"]) == ("2", "1")
    assert (rows["330106:17"]["entitled"], rows["330106:17"]["rate"]) == ("2", "0.5000")
    # Nobody entitled: an empty rate; the registry cannot say who: empty figures.
    assert (rows["330106:29"]["entitled"], rows["330106:29"]["rate"]) == ("0", "")
    assert rows["330106:31"]["entitled"] == "" and rows["330106:31"]["rate"] == ""
    named = read_csv(missed)
    assert list(named[0]) == ["item", "id_number", "name", "residence_region", "reason"]
    by_item = {(r["item"], r["id_number"]): r for r in named}
    assert by_item[("330106:15", june["unpaid"].id_number)]["reason"] == "本期无发放记录"
    # Names typed as formulas stay text in the file.
    assert by_item[("330106:15", june["unpaid"].id_number)]["name"] == "'=HYPERLINK(1)"
    assert by_item[("330106:26", june["missed"].id_number)]["reason"] == "未分配探访人员"
    assert ("330106:26", june["seen"].id_number) not in by_item
    audit = AuditEntry.objects.get(object_type="service_coverage")
    assert audit.action == AuditAction.EXPORT and audit.object_id == "330106004"


def test_the_reason_names_a_standard_not_set(june, coverage_reading):
    """Xihu's high-age universal e-allowance (清单16) has no amount yet: nobody is paid, and
    the list says why."""
    rows = coverage(region("330106"), D(2024, 6, 1), D(2024, 6, 30), named=True)
    (row,) = [r for r in rows if r.item.code == "330106:16"]
    assert (row.entitled, row.reached) == (2, 0)
    assert {n.reason for n in row.not_reached} == {
        "标准未设定（高龄普惠服务电子津贴（80周岁及以上））"
    }


def test_a_year_and_xlsx(june, tmp_path):
    output = tmp_path / "coverage.xlsx"
    call_command(
        "service_coverage",
        "--region=330106",
        "--period=2024",
        "--format=xlsx",
        f"--output={output}",
    )
    sheet = load_workbook(output).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("item", "name", "kind", "entitled", "reached", "rate")
    assert any(r[0] == "330106:26" for r in rows[1:])


def test_a_street_worker_runs_coverage_only_for_their_area(june, tmp_path):
    worker = User.objects.create_user("cuiyuan-office")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    output = tmp_path / "c.csv"
    call_command(
        "service_coverage",
        "--region=330106004",
        "--period=2024-06",
        f"--output={output}",
        "--user=cuiyuan-office",
    )
    with pytest.raises(CommandError, match="不在您的权限范围内"):
        call_command(
            "service_coverage",
            "--region=330106001",
            "--period=2024-06",
            f"--output={output}",
            "--user=cuiyuan-office",
        )


def test_the_api_gives_a_street_worker_their_to_do_list(june, client):
    worker = User.objects.create_user("cuiyuan-phone")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    client.force_login(worker)
    answer = client.get(
        "/api/servicelist/coverage/",
        {"region": "330106004", "period": "2024-06", "not_reached": "true"},
    )
    assert answer.status_code == 200
    rows = {r["item"]: r for r in answer.json()}
    assert [n["name"] for n in rows["330106:26"]["not_reached"]] == ["独居未访"]
    outside = client.get("/api/servicelist/coverage/", {"region": "330106001", "period": "2024-06"})
    assert outside.status_code == 403


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("2024-02", D(2024, 2, 1), D(2024, 2, 29)), ("2024", D(2024, 1, 1), D(2024, 12, 31))],
)
def test_periods(text, start, end):
    assert parse_period(text) == (start, end)


# --- the slow reading, elder by elder -------------------------------------------------------


def slow_coverage(area, start, end):
    """Each item in force read elder by elder in Python: facts, the condition, the records."""
    result = {}
    elders = list(Elder.objects.select_related("hukou_region", "residence_region"))
    for item in items_in_force(area, start, end):
        if item.condition is None:
            continue
        day = evaluation_day(item, start)
        values = conditions.resolve_values(item.condition, area, day)
        entitled, reached = set(), set()
        for elder in elders:
            place = (elder.residence_region or elder.hukou_region).path
            if not place.startswith(area.path):
                continue
            if elder.death_date is not None and elder.death_date < day:
                continue
            held = frozenset(
                c.category
                for c in elder.categories.all()
                if c.start_date <= day and (c.end_date is None or day <= c.end_date)
            )
            latest = (
                elder.assessments.filter(assessed_on__lte=day)
                .order_by("-assessed_on", "-id")
                .first()
            )
            facts = conditions.Facts(
                on=day,
                birth_date=elder.birth_date,
                categories=held,
                ability_level=latest.final_level if latest else None,
                pension_type=elder.pension_type,
                hukou_path=elder.hukou_region.path,
                residence_path=elder.residence_region.path if elder.residence_region else "",
            )
            if not conditions.evaluate(item.condition, facts, values=values):
                continue
            entitled.add(elder.id_number)
            if _reached_one(item, elder, start, end):
                reached.add(elder.id_number)
        result[item.code] = (entitled, reached)
    return result


def _reached_one(item, elder, start, end):
    how = item.reached_through
    if how == ReachedThrough.PAYMENT_LINE:
        return any(
            line.scheme.code in item.schemes
            and start <= line.period <= end
            and line.kind in (LineKind.NORMAL, LineKind.ARREARS, LineKind.REISSUE)
            and line.status not in (LineStatus.FAILED, LineStatus.CANCELLED, LineStatus.HELD)
            for line in elder.payment_lines.select_related("scheme")
        )
    if how == ReachedThrough.VISIT:
        return any(
            start
            <= v.visited_at.astimezone(datetime.timezone(datetime.timedelta(hours=8))).date()
            <= end
            for v in elder.visits.all()
        )
    if how == ReachedThrough.ABILITY_ASSESSMENT:
        return any(start <= a.assessed_on <= end for a in elder.assessments.all())
    if how == ReachedThrough.HEALTH_CHECK:
        return any(start <= h.checked_on <= end for h in HealthCheck.objects.filter(elder=elder))
    if how == ReachedThrough.DELIVERY and item.record_kind:
        return _reached_by_own_record(item, elder, start, end)
    if how == ReachedThrough.DELIVERY:
        codes = lineage(item)
        return any(
            d.item.code in codes and start <= d.delivered_on <= end
            for d in elder.service_deliveries.select_related("item")
        )
    return None


def _reached_by_own_record(item, elder, start, end):
    """An item with its own record reaches an elder by it: a meal in the period, a visit to
    a home-care bed in the period, a respite stay overlapping it, an adaptation finished by
    its end."""
    codes = lineage(item)
    if item.record_kind == "meal":
        return any(
            d.item.code in codes and start <= d.delivered_on <= end and hasattr(d, "meal")
            for d in elder.service_deliveries.select_related("item")
        )
    if item.record_kind == "home_care_bed":
        return any(
            v.delivery.item.code in codes and start <= v.delivery.delivered_on <= end
            for bed in elder.home_care_beds.all()
            for v in bed.visits.select_related("delivery__item")
        )
    if item.record_kind == "respite":
        return any(
            s.item.code in codes and s.start_on <= end and s.end_on >= start
            for s in elder.respite_stays.select_related("item")
        )
    return any(
        a.item.code in codes and a.completed_on is not None and a.completed_on <= end
        for a in elder.home_adaptations.select_related("item")
    )


AGES = [59, 60, 64, 65, 69, 70, 79, 80, 89, 90, 100]
CATEGORIES = [
    "living_alone",
    "minimum_living",
    "lost_only_child",
    "destitute",
    "childless_alone",
    "key_entitled",
    "cognitive_impairment",
    "severely_disabled",
]
EVENTS = [
    "paid",
    "held",
    "visited",
    "assessed",
    "checked",
    "meals",
    "newspaper",
    "adapted",
    "bed",
    # A delivery of the meal or the home-care-bed item that carries no meal or bed visit:
    # it reaches nobody through those items.
    "meal_unrecorded",
    "bed_unrecorded",
]


@st.composite
def populations(draw):
    month = draw(st.integers(2, 12))
    yearly = draw(st.booleans())
    elders = []
    for _ in range(draw(st.integers(1, 6))):
        elders.append(
            {
                "age": draw(st.sampled_from(AGES)),
                "shift": draw(st.integers(-2, 2)),
                "categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True)),
                "level": draw(st.sampled_from([None, "intact", "moderate", "total"])),
                "residence": draw(st.sampled_from(["330106004001", "330106001001", None])),
                "hukou": draw(st.sampled_from(["330106004001", "330203"])),
                "pension": draw(st.sampled_from(["none", "resident", "employee"])),
                "dead": draw(st.booleans()) and draw(st.booleans()),
                "events": draw(st.lists(st.sampled_from(EVENTS), max_size=4, unique=True)),
                "in_period": draw(st.booleans()),
            }
        )
    area = draw(st.sampled_from(["330106", "330106004"]))
    return elders, ("2024" if yearly else f"2024-{month:02d}"), area


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[Health.function_scoped_fixture, Health.too_slow],
)
@given(population=populations())
def test_coverage_equals_the_slow_reading_elder_by_elder(schemes, population, coverage_reading):
    specs, period, area_code = population
    area = region(area_code)
    start, end = parse_period(period)
    inside = start + datetime.timedelta(days=3)
    outside = end + datetime.timedelta(days=3)
    with transaction.atomic():
        worker = User.objects.create_user(f"visitor-{uuid.uuid4().hex[:8]}")
        for spec in specs:
            birth = add_years(start, -spec["age"]) + datetime.timedelta(days=spec["shift"])
            elder = make_elder(
                birth,
                hukou=spec["hukou"],
                residence=spec["residence"],
                pension=spec["pension"],
                death=start - datetime.timedelta(days=1) if spec["dead"] else None,
            )
            for code in spec["categories"]:
                ElderCategory.objects.create(elder=elder, category=code, start_date=D(2020, 1, 1))
            if spec["level"]:
                AbilityAssessment.objects.create(
                    elder=elder,
                    standard=AssessmentStandard.GB_T_42195_2022,
                    assessed_on=D(2023, 1, 1),
                    assessor="评估员",
                    total_score=0,
                    computed_level=spec["level"],
                    final_level=spec["level"],
                    **{i.field: 0 for i in ITEMS},
                )
            on = inside if spec["in_period"] else outside
            for event in spec["events"]:
                if event == "paid":
                    for code in ("high_age_80_89", "xihu_e_allowance_minimum_living"):
                        pay(elder, schemes[code], on.replace(day=1))
                elif event == "held" and "paid" not in spec["events"]:
                    # No account: the line is kept, held, and reaches nobody.
                    pay(elder, schemes["high_age_80_89"], on.replace(day=1), LineStatus.HELD)
                elif event == "visited":
                    visit(elder, worker, on)
                elif event == "assessed":
                    AbilityAssessment.objects.create(
                        elder=elder,
                        standard=AssessmentStandard.GB_T_42195_2022,
                        assessed_on=on,
                        assessor="评估员",
                        total_score=0,
                        computed_level="intact",
                        final_level="intact",
                        **{i.field: 0 for i in ITEMS},
                    )
                elif event == "checked":
                    HealthCheck.objects.create(elder=elder, checked_on=on)
                elif event == "meals":
                    serve_meals(elder, on)
                elif event == "newspaper":
                    deliver(elder, "330106:17", on)
                elif event == "adapted":
                    adapt(elder, on)
                elif event == "bed":
                    visit_bed(elder, on)
                elif event == "meal_unrecorded":
                    deliver(elder, "330106:10", on, provider="送餐员")
                elif event == "bed_unrecorded":
                    deliver(elder, "330106:21", on, provider="护理员")
        fast = {
            row.item.code: row
            for row in coverage(area, start, end, named=True)
            if row.entitled is not None
        }
        slow = slow_coverage(area, start, end)
        transaction.set_rollback(True)
    assert set(fast) == set(slow)
    for code, (entitled, reached) in slow.items():
        row = fast[code]
        assert row.entitled == len(entitled), code
        if row.reached is None:
            continue
        assert row.reached == len(reached), code
        assert {n.id_number for n in row.not_reached} == entitled - reached, code


def test_a_few_queries_per_item_whatever_the_number_of_elders(
    june, django_assert_max_num_queries, coverage_reading
):
    area, start, end = region("330106"), D(2024, 6, 1), D(2024, 6, 30)
    items = len(items_in_force(area, start, end))
    for n in range(30):
        make_elder(D(1940, 1, 1) + datetime.timedelta(days=n))
    with django_assert_max_num_queries(8 * items + 20):
        coverage(area, start, end, named=True)


def test_reached_reads_nothing_for_items_no_system_of_ours_delivers(service_items):
    item = ServiceItem.objects.get(code="330000:1")
    assert reached_elders(item, D(2024, 6, 1), D(2024, 6, 30)) is None
    assert Elder.objects.filter(lives_in(region("330106")), alive_on(D(2024, 6, 1))).count() == 0


def test_an_elders_page_lists_every_item_entitled_received_and_missing(june, client):
    worker = User.objects.create_user("cuiyuan-desk")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    client.force_login(worker)
    answer = client.get(
        "/api/servicelist/elder-items/", {"elder": june["paid"].pk, "period": "2024-06"}
    )
    assert answer.status_code == 200
    items = {row["item"]: row for row in answer.json()}
    assert items["330106:15"] == {
        "item": "330106:15",
        "name": "高龄津贴",
        "kind": "cash",
        "entitled": True,
        "received": True,
        "missing": False,
    }
    assert items["330106:16"]["missing"] is True  # its amount is not set: nothing paid
    assert items["330106:23"]["entitled"] is False
    assert items["330106:31"]["entitled"] is None
    assert items["330106:1"]["received"] is None  # pensions: not recorded here
    assert "330000:1" not in items  # restated by Xihu's own item 1
    beishan = make_elder(D(1940, 1, 1), hukou="330106001001", residence="330106001001")
    outside = client.get(
        "/api/servicelist/elder-items/", {"elder": beishan.pk, "period": "2024-06"}
    )
    assert outside.status_code == 400


def test_an_area_above_the_in_memory_limit_is_counted_in_sql(june, settings):
    """Up to SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS elders the area is read into memory
    once; above it (a province) each item is counted in SQL."""
    from servicelist.area_reading import AreaReading
    from servicelist.coverage import _reading

    area, start, end = region("330106004"), D(2024, 6, 1), D(2024, 6, 30)
    living = Elder.objects.filter(lives_in(area)).count()
    assert living > 1
    settings.SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS = living
    assert isinstance(_reading(area, start, end, []), AreaReading)
    settings.SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS = living - 1
    assert not isinstance(_reading(area, start, end, []), AreaReading)
    settings.SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS = 0
    assert not isinstance(_reading(area, start, end, []), AreaReading)


def test_an_area_with_no_elders_counts_nobody(schemes, coverage_reading):
    rows = coverage(region("330106004"), D(2024, 6, 1), D(2024, 6, 30), named=True)
    assert rows and all(row.entitled in (0, None) for row in rows)
    assert not any(row.reached for row in rows)
    assert not any(row.not_reached for row in rows)
