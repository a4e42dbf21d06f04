"""The items' own records beside their deliveries: meals at meal points (助餐) and the meal
points' coverage target, home adaptations from application to the one-off subsidy (适老化改造),
home-care beds set up, visited and closed (家庭养老床位), respite stays against a yearly
allowance (喘息) — through the service, the providers' spreadsheets and the API, and coverage
reading each item's own record."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.catalog import get_key
from regions.choices import RegionLevel
from regions.models import PolicyValue, Region
from residents.id_numbers import with_check_character
from servicelist.coverage import coverage
from servicelist.importing import COLUMNS, import_deliveries
from servicelist.item_selectors import meal_point_coverage
from servicelist.item_services import (
    apply_for_adaptation,
    assess_adaptation,
    close_home_care_bed,
    record_item_delivery,
    set_up_home_care_bed,
)
from servicelist.models import (
    HomeAdaptation,
    HomeCareBed,
    HomeCareBedVisit,
    MealService,
    RespiteStay,
    ServiceDelivery,
    ServiceItem,
)
from servicelist.services import Provider, find_item, record_delivery
from tests.factories import ElderFactory, FacilityFactory, MealPointFactory

D = datetime.date


def region(code):
    return Region.objects.get(code=code)


def rows_csv(rows, columns=COLUMNS):
    lines = [",".join(columns), *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


SINCE = D(2024, 1, 1)


def set_value(key, code, value, since=SINCE):
    return PolicyValue.objects.create(
        region=region(code),
        key=key,
        value=Decimal(value),
        unit=get_key(key).unit,
        effective_from=since,
        citation="测试",
    )


@pytest.fixture
def cuiyuan(service_items):
    here = region("330106004001")
    beishan = region("330106001001")
    return {
        "here": ElderFactory(
            id_number=with_check_character("33010619400101001"),
            name="翠苑老人",
            hukou_region=here,
            residence_region=here,
        ),
        "there": ElderFactory(
            id_number=with_check_character("33010619400101002"),
            name="北山老人",
            hukou_region=beishan,
            residence_region=beishan,
        ),
        "home": FacilityFactory(name="翠苑护理站", region=region("330106004")),
    }


def street_worker(code="330106004"):
    worker = User.objects.create_user(f"worker-{code}")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region(code))
    return worker


# --- meals at meal points (助餐) -----------------------------------------------------------------


def test_meals_at_a_meal_point_are_a_delivery_with_their_meal_record(cuiyuan):
    point = MealPointFactory(name="翠苑助餐点")
    here = cuiyuan["here"].id_number
    content = rows_csv([["330106:10", here, "2024-06-03", "翠苑助餐点", "2", "10.00"]])
    assert import_deliveries(content, "june.csv").summary == "created 1, updated 0, rejected 0"
    meal = MealService.objects.get()
    assert (meal.meal_point, meal.meals) == (point, 2)
    assert meal.delivery.quantity == 2 and meal.delivery.provider_name == "翠苑助餐点"
    again = import_deliveries(content, "june.csv")
    assert again.summary == "created 0, updated 0, rejected 0"
    fewer = rows_csv([["330106:10", here, "2024-06-03", "翠苑助餐点", "1", "10.00"]])
    assert import_deliveries(fewer, "june.csv").summary == "created 0, updated 1, rejected 0"
    assert MealService.objects.get().meals == 1


def test_a_meal_point_is_found_by_its_facility_code(cuiyuan):
    canteen = FacilityFactory(name="翠苑老年食堂", region=region("330106004"))
    point = MealPointFactory(name="翠苑老年食堂", kind="canteen", facility=canteen)
    on = D(2024, 6, 3)
    record_item_delivery(
        item=find_item("330106:10", on),
        elder=cuiyuan["here"],
        delivered_on=on,
        provider=Provider(canteen, canteen.name),
    )
    assert MealService.objects.get().meal_point == point


def test_bad_meal_rows_are_named_by_line_and_field(cuiyuan):
    MealPointFactory(name="翠苑助餐点")
    MealPointFactory(name="已停办", closed_on=D(2024, 5, 31))
    here = cuiyuan["here"].id_number
    rows = [
        ["330106:10", here, "2024-06-03", "翠苑助餐点", "1", ""],
        ["330106:10", here, "2024-06-04", "翠苑助餐点", "4", ""],  # four meals a day
        ["330106:10", here, "2024-06-04", "翠苑助餐点", "1.5", ""],  # half a meal
        ["330106:10", here, "2024-06-04", "别处食堂", "1", ""],  # no such meal point
        ["330106:10", here, "2024-06-04", "已停办", "1", ""],  # closed by then
        ["330106:10", here, "2099-06-04", "翠苑助餐点", "1", ""],  # in the future
    ]
    result = import_deliveries(rows_csv(rows), "june.csv")
    assert result.summary == "created 1, updated 0, rejected 5"
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "quantity"),
        (4, "quantity"),
        (5, "provider"),
        (6, "provider"),
        (7, "date"),
    ]
    assert ServiceDelivery.objects.count() == MealService.objects.count() == 1


def test_coverage_counts_the_meals_recorded_at_meal_points(cuiyuan):
    MealPointFactory(name="翠苑助餐点")
    on = D(2024, 6, 3)
    record_item_delivery(
        item=find_item("330106:10", on),
        elder=cuiyuan["here"],
        delivered_on=on,
        provider=Provider(None, "翠苑助餐点"),
    )
    row = next(
        r
        for r in coverage(region("330106004"), D(2024, 6, 1), D(2024, 6, 30), named=True)
        if r.item.code == "330106:10"
    )
    assert (row.entitled, row.reached) == (1, 1)
    july = next(
        r
        for r in coverage(region("330106004"), D(2024, 7, 1), D(2024, 7, 31), named=True)
        if r.item.code == "330106:10"
    )
    assert july.reached == 0 and july.not_reached[0].reason == "本期无助餐记录"


def test_a_direct_record_delivery_of_a_meal_item_records_the_meal(cuiyuan):
    """Every door agrees: a script or a future door calling the service itself gets the meal
    record the import and the API write, so coverage counts it; a provider that is not a
    meal point is refused on its field, writing nothing."""
    point = MealPointFactory(name="翠苑助餐点")
    on = D(2024, 6, 3)
    item = find_item("330106:10", on)
    with pytest.raises(ValidationError) as refused:
        record_delivery(
            item=item, elder=cuiyuan["here"], delivered_on=on, provider=Provider(None, "别处食堂")
        )
    assert "provider" in refused.value.message_dict
    assert not ServiceDelivery.objects.exists()
    result = record_delivery(
        item=item,
        elder=cuiyuan["here"],
        delivered_on=on,
        provider=Provider(None, "翠苑助餐点"),
        quantity=Decimal(2),
    )
    assert result.created
    meal = MealService.objects.get()
    assert (meal.delivery, meal.meal_point, meal.meals) == (result.delivery, point, 2)
    row = next(
        r
        for r in coverage(region("330106004"), D(2024, 6, 1), D(2024, 6, 30))
        if r.item.code == "330106:10"
    )
    assert (row.entitled, row.reached) == (1, 1)


def test_a_direct_record_delivery_goes_to_each_item_s_own_record(cuiyuan):
    """A home-care bed's visit needs the bed and an adaptation its approval, whether the row
    comes from a spreadsheet or a direct call; an end date belongs to respite alone."""
    on = D(2024, 6, 3)
    provider = Provider(cuiyuan["home"], cuiyuan["home"].name)
    with pytest.raises(ValidationError):
        record_delivery(
            item=find_item("330106:21", on),
            elder=cuiyuan["here"],
            delivered_on=on,
            provider=provider,
        )
    with pytest.raises(ValidationError):
        record_delivery(
            item=find_item("330106:18", on),
            elder=cuiyuan["here"],
            delivered_on=on,
            provider=provider,
        )
    with pytest.raises(ValidationError) as refused:
        record_delivery(
            item=find_item("330106:17", on),
            elder=cuiyuan["here"],
            delivered_on=on,
            provider=provider,
            end_on=D(2024, 6, 5),
        )
    assert "end_date" in refused.value.message_dict
    assert not ServiceDelivery.objects.exists()


def _jinhua_communities():
    county = Region.objects.get(code="330702")
    street = Region.objects.create(
        code="330702001", name="测试街道", level=RegionLevel.STREET, parent=county
    )
    return [
        Region.objects.create(
            code=f"330702001{n:03d}",
            name=f"测试社区{n}",
            level=RegionLevel.COMMUNITY,
            parent=street,
        )
        for n in range(1, 6)
    ]


def test_meal_points_cover_communities_against_jinhua_s_80_percent(service_items):
    communities = _jinhua_communities()
    for community in communities[:4]:
        MealPointFactory(region=community)
    MealPointFactory(region=communities[4], closed_on=D(2024, 3, 1))
    found = meal_point_coverage(Region.objects.get(code="330702"), D(2024, 6, 1))
    assert (found.communities, found.covered, found.share) == (5, 4, Decimal("0.8000"))
    assert found.target == Decimal("0.80") and found.meets_target is True
    earlier = meal_point_coverage(Region.objects.get(code="330702"), D(2024, 2, 1))
    assert earlier.covered == 5


def test_a_meal_point_target_not_given_is_not_set(cuiyuan):
    MealPointFactory()
    found = meal_point_coverage(region("330106"), D(2024, 6, 1))
    assert found.target is None and found.meets_target is None
    assert "未设定" in found.target_note and found.covered >= 1


# --- home adaptations (适老化改造) ----------------------------------------------------------------


MARCH = D(2024, 3, 1)


def _approved(elder, on=MARCH):
    item = find_item("330106:18", on)
    adaptation = apply_for_adaptation(elder=elder, item=item, applied_on=on)
    return assess_adaptation(
        adaptation=adaptation, assessed_on=on + datetime.timedelta(days=10), approved=True
    )


def test_an_adaptation_done_while_the_subsidy_is_not_set_says_so(cuiyuan):
    adaptation = _approved(cuiyuan["here"])
    here = cuiyuan["here"].id_number
    content = rows_csv([["330106:18", here, "2024-04-20", "适老化改造公司", "", ""]])
    assert import_deliveries(content, "april.csv").summary == "created 1, updated 0, rejected 0"
    adaptation.refresh_from_db()
    assert adaptation.completed_on == D(2024, 4, 20) and adaptation.subsidy is None
    assert "未设定" in adaptation.subsidy_note
    assert adaptation.delivery.amount is None
    assert import_deliveries(content, "april.csv").summary == "created 0, updated 0, rejected 0"
    with_amount = rows_csv([["330106:18", here, "2024-04-20", "适老化改造公司", "", "3000"]])
    refused = import_deliveries(with_amount, "april.csv")
    assert [(e.row, e.field) for e in refused.errors] == [(2, "amount")]


def test_an_adaptation_s_subsidy_is_the_rulebook_s_cap_or_less(cuiyuan):
    set_value("home_adaptation_subsidy", "330106", "3000")
    adaptation = _approved(cuiyuan["here"])
    done = record_item_delivery(
        item=adaptation.item,
        elder=cuiyuan["here"],
        delivered_on=D(2024, 4, 20),
        provider=Provider(None, "改造公司"),
    )
    adaptation.refresh_from_db()
    assert adaptation.subsidy == Decimal("3000") and done.delivery.amount == Decimal("3000")
    with pytest.raises(ValidationError) as refused:
        record_item_delivery(
            item=adaptation.item,
            elder=cuiyuan["here"],
            delivered_on=D(2024, 4, 20),
            provider=Provider(None, "改造公司"),
            amount=Decimal("3500"),
        )
    assert "3000" in refused.value.message_dict["amount"][0]


def test_adaptation_dates_are_checked_in_order(cuiyuan):
    elder = cuiyuan["here"]
    item = find_item("330106:18", D(2024, 3, 1))
    with pytest.raises(ValidationError) as future:
        apply_for_adaptation(elder=elder, item=item, applied_on=D(2099, 1, 1))
    assert "applied_on" in future.value.message_dict
    adaptation = apply_for_adaptation(elder=elder, item=item, applied_on=D(2024, 3, 1))
    with pytest.raises(ValidationError) as early:
        assess_adaptation(adaptation=adaptation, assessed_on=D(2024, 2, 1), approved=True)
    assert "申请日期" in early.value.message_dict["assessed_on"][0]
    assess_adaptation(adaptation=adaptation, assessed_on=D(2024, 3, 10), approved=True)
    with pytest.raises(ValidationError) as before_assessment:
        record_item_delivery(
            item=item, elder=elder, delivered_on=D(2024, 3, 5), provider=Provider(None, "x")
        )
    assert "评估日期" in before_assessment.value.message_dict["date"][0]
    assert not ServiceDelivery.objects.exists()


def test_an_adaptation_is_given_once_and_only_after_approval(cuiyuan):
    elder = cuiyuan["here"]
    item = find_item("330106:18", D(2024, 3, 1))
    first = apply_for_adaptation(elder=elder, item=item, applied_on=D(2024, 3, 1))
    with pytest.raises(ValidationError) as twice:
        apply_for_adaptation(elder=elder, item=item, applied_on=D(2024, 3, 2))
    assert "item" in twice.value.message_dict
    with pytest.raises(ValidationError) as unassessed:
        record_item_delivery(
            item=item, elder=elder, delivered_on=D(2024, 4, 1), provider=Provider(None, "x")
        )
    assert "item" in unassessed.value.message_dict
    assess_adaptation(adaptation=first, assessed_on=D(2024, 3, 5), approved=False)
    again = apply_for_adaptation(elder=elder, item=item, applied_on=D(2024, 5, 1))
    assert HomeAdaptation.objects.filter(elder=elder).count() == 2 and again.pk != first.pk


def test_an_adaptation_done_before_the_period_still_reaches_the_elder(cuiyuan):
    from residents.models import ElderCategory

    elder = cuiyuan["here"]
    ElderCategory.objects.create(elder=elder, category="minimum_living", start_date=D(2020, 1, 1))
    adaptation = _approved(elder)
    record_item_delivery(
        item=adaptation.item, elder=elder, delivered_on=D(2024, 4, 20), provider=Provider(None, "x")
    )
    rows = {r.item.code: r for r in coverage(region("330106004"), D(2024, 9, 1), D(2024, 9, 30))}
    assert (rows["330106:18"].entitled, rows["330106:18"].reached) == (1, 1)
    march = {
        r.item.code: r
        for r in coverage(region("330106004"), D(2024, 3, 1), D(2024, 3, 31), named=True)
    }
    assert march["330106:18"].reached == 0
    assert march["330106:18"].not_reached[0].reason == "尚未完成适老化改造"


# --- home-care beds (家庭养老床位) ----------------------------------------------------------------


def _disabled(elder):
    from residents.assessment_rules import ITEMS
    from residents.models import AbilityAssessment

    AbilityAssessment.objects.create(
        elder=elder,
        standard="gb_t_42195_2022",
        assessed_on=D(2024, 1, 5),
        assessor="评估员",
        total_score=0,
        computed_level="severe",
        final_level="severe",
        **{i.field: 0 for i in ITEMS},
    )


def test_a_bed_set_up_and_visited_in_the_period_reaches_the_elder(cuiyuan):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    _disabled(elder)
    item = find_item("330106:21", D(2024, 3, 1))
    set_up_home_care_bed(
        elder=elder, item=item, provider=Provider(home, home.name), set_up_on=D(2024, 3, 1)
    )
    content = rows_csv([["330106:21", elder.id_number, "2024-06-03", home.code, "", ""]])
    assert import_deliveries(content, "june.csv").summary == "created 1, updated 0, rejected 0"
    assert HomeCareBedVisit.objects.get().delivery.delivered_on == D(2024, 6, 3)
    june = {r.item.code: r for r in coverage(region("330106004"), D(2024, 6, 1), D(2024, 6, 30))}
    assert (june["330106:21"].entitled, june["330106:21"].reached) == (1, 1)
    may = {r.item.code: r for r in coverage(region("330106004"), D(2024, 5, 1), D(2024, 5, 31))}
    assert may["330106:21"].reached == 0  # set up, not visited that month


def test_a_visit_needs_the_elder_s_bed_in_place_and_its_provider(cuiyuan):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    item = find_item("330106:21", D(2024, 3, 1))
    bed = set_up_home_care_bed(
        elder=elder, item=item, provider=Provider(home, home.name), set_up_on=D(2024, 3, 1)
    )
    rows = [
        ["330106:21", elder.id_number, "2024-02-28", home.code, "", ""],  # before the bed
        ["330106:21", elder.id_number, "2024-06-03", "别家公司", "", ""],  # not its provider
        ["330106:21", elder.id_number, "2024-06-03", home.code, "", ""],
    ]
    result = import_deliveries(rows_csv(rows), "june.csv")
    assert [(e.row, e.field) for e in result.errors] == [(2, "date"), (3, "provider")]
    with pytest.raises(ValidationError) as early:
        close_home_care_bed(bed=bed, closed_on=D(2024, 6, 1))
    assert "最近一次上门服务" in early.value.message_dict["closed_on"][0]
    close_home_care_bed(bed=bed, closed_on=D(2024, 6, 30), reason="入住机构")
    late = rows_csv([["330106:21", elder.id_number, "2024-07-02", home.code, "", ""]])
    assert import_deliveries(late, "july.csv").errors[0].field == "date"


def test_one_bed_at_a_time(cuiyuan):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    item = find_item("330106:21", D(2024, 3, 1))
    bed = set_up_home_care_bed(
        elder=elder, item=item, provider=Provider(home, home.name), set_up_on=D(2024, 3, 1)
    )
    with pytest.raises(ValidationError) as second:
        set_up_home_care_bed(
            elder=elder, item=item, provider=Provider(None, "别家"), set_up_on=D(2024, 4, 1)
        )
    assert "set_up_on" in second.value.message_dict
    close_home_care_bed(bed=bed, closed_on=D(2024, 4, 30))
    with pytest.raises(ValidationError):
        set_up_home_care_bed(
            elder=elder, item=item, provider=Provider(None, "别家"), set_up_on=D(2024, 4, 30)
        )
    set_up_home_care_bed(
        elder=elder, item=item, provider=Provider(None, "别家"), set_up_on=D(2024, 5, 1)
    )
    assert HomeCareBed.objects.filter(elder=elder).count() == 2


# --- respite stays (喘息) -----------------------------------------------------------------------


@pytest.fixture
def respite_item(service_items):
    """No list of the five names a respite item: a district adds one (an item of its own)."""
    return ServiceItem.objects.create(
        region=region("330106"),
        number=90,
        name="喘息服务",
        name_en="Respite care",
        target_group="失能老年人家庭",
        content="为失能老年人提供短期托养，让家庭照护者喘息。",
        kind="in_kind",
        reached_through="delivery",
        record_kind="respite",
        condition={"age_at_least": 60},
        effective_from=D(2024, 1, 30),
        citation="测试清单90",
        is_addition=True,
    )


RESPITE_COLUMNS = [*COLUMNS, "end_date"]


def test_a_respite_stay_counts_its_days_and_a_resend_changes_nothing(cuiyuan, respite_item):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    row = ["330106:90", elder.id_number, "2024-06-03", home.code, "", "", "2024-06-09"]
    content = rows_csv([row], RESPITE_COLUMNS)
    assert import_deliveries(content, "june.csv").summary == "created 1, updated 0, rejected 0"
    stay = RespiteStay.objects.get()
    assert (stay.days, stay.facility, stay.yearly_allowance) == (7, home, None)
    assert stay.delivery.quantity == 7
    assert import_deliveries(content, "june.csv").summary == "created 0, updated 0, rejected 0"
    longer = rows_csv([[*row[:6], "2024-06-10"]], RESPITE_COLUMNS)
    assert import_deliveries(longer, "june.csv").summary == "created 0, updated 1, rejected 0"
    assert RespiteStay.objects.get().days == 8


def test_bad_respite_rows_are_named_by_line_and_field(cuiyuan, respite_item):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    n = elder.id_number
    rows = [
        ["330106:90", n, "2024-06-03", home.code, "", "", "2024-06-05"],
        ["330106:90", n, "2024-07-03", home.code, "", "", ""],  # no end
        ["330106:90", n, "2024-07-03", home.code, "", "", "2024-07-01"],  # ends before it starts
        ["330106:90", n, "2024-07-03", home.code, "5", "", "2024-07-05"],  # 3 days, not 5
        ["330106:90", n, "2024-06-04", home.code, "", "", "2024-06-06"],  # overlaps the first
        ["330106:90", n, "2024-08-01", "某家庭", "", "", "2024-08-02"],  # not a facility
        ["330106:10", n, "2024-08-01", "某食堂", "", "", "2024-08-02"],  # an end for meals
        ["330106:90", n, "2024-08-01", home.code, "", "", "2024-13-01"],  # no such day
    ]
    result = import_deliveries(rows_csv(rows, RESPITE_COLUMNS), "july.csv")
    assert result.summary == "created 1, updated 0, rejected 7"
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "end_date"),
        (4, "end_date"),
        (5, "quantity"),
        (6, "date"),
        (7, "provider"),
        (8, "end_date"),
        (9, "end_date"),
    ]


def test_respite_days_count_against_the_yearly_allowance_once_set(cuiyuan, respite_item):
    set_value("respite_days_per_year", "330106", "10")
    elder, home = cuiyuan["here"], cuiyuan["home"]
    item = find_item("330106:90", D(2024, 6, 1))

    def stay(start, end):
        return record_item_delivery(
            item=item,
            elder=elder,
            delivered_on=start,
            end_on=end,
            provider=Provider(home, home.name),
        )

    stay(D(2024, 3, 1), D(2024, 3, 7))  # 7 days
    with pytest.raises(ValidationError) as over:
        stay(D(2024, 6, 1), D(2024, 6, 4))  # 4 more: 11
    assert "已用喘息服务 7 天" in over.value.message_dict["end_date"][0]
    stay(D(2024, 6, 1), D(2024, 6, 3))  # 3 more: 10
    # Across New Year: 2 days in 2024 (over), so refused; the days of 2025 are fresh.
    with pytest.raises(ValidationError):
        stay(D(2024, 12, 30), D(2025, 1, 3))
    stay(D(2025, 1, 1), D(2025, 1, 10))
    assert RespiteStay.objects.filter(elder=elder).count() == 3
    assert set(RespiteStay.objects.values_list("yearly_allowance", flat=True)) == {10}


def test_coverage_counts_a_respite_stay_overlapping_the_period(cuiyuan, respite_item):
    elder, home = cuiyuan["here"], cuiyuan["home"]
    record_item_delivery(
        item=respite_item,
        elder=elder,
        delivered_on=D(2024, 6, 28),
        end_on=D(2024, 7, 2),
        provider=Provider(home, home.name),
    )
    for start, end, reached in [
        (D(2024, 6, 1), D(2024, 6, 30), 1),
        (D(2024, 7, 1), D(2024, 7, 31), 1),
        (D(2024, 8, 1), D(2024, 8, 31), 0),
    ]:
        rows = {r.item.code: r for r in coverage(region("330106004"), start, end)}
        assert rows["330106:90"].reached == reached


def test_an_item_keeps_its_own_record_only_if_delivered(service_items):
    item = ServiceItem.objects.get(code="330106:11")  # cash
    item.record_kind = "meal"
    with pytest.raises(ValidationError):
        item.full_clean()


# --- the API ------------------------------------------------------------------------------------


def test_the_api_applies_assesses_and_sets_up_in_the_worker_s_street(cuiyuan, client):
    client.force_login(street_worker())
    here, there, home = cuiyuan["here"], cuiyuan["there"], cuiyuan["home"]
    applied = client.post(
        "/api/servicelist/adaptations/",
        {"item": "330106:18", "elder": here.pk, "applied_on": "2024-03-01"},
        content_type="application/json",
    )
    assert applied.status_code == 201, applied.content
    assert here.id_number not in applied.content.decode()  # masked
    assessed = client.post(
        f"/api/servicelist/adaptations/{applied.json()['id']}/assess/",
        {"assessed_on": "2024-02-01", "approved": True},
        content_type="application/json",
    )
    assert assessed.status_code == 400 and "assessed_on" in assessed.json()
    outside = client.post(
        "/api/servicelist/adaptations/",
        {"item": "330106:18", "elder": there.pk, "applied_on": "2024-03-01"},
        content_type="application/json",
    )
    assert outside.status_code == 400 and "elder" in outside.json()
    bed = client.post(
        "/api/servicelist/home-care-beds/",
        {"item": "330106:21", "elder": here.pk, "provider": home.code, "set_up_on": "2024-03-01"},
        content_type="application/json",
    )
    assert bed.status_code == 201, bed.content
    closed = client.post(
        f"/api/servicelist/home-care-beds/{bed.json()['id']}/close/",
        {"closed_on": "2024-04-01", "reason": "入住机构"},
        content_type="application/json",
    )
    assert closed.status_code == 200 and closed.json()["closed_on"] == "2024-04-01"


def test_the_api_registers_meal_points_and_tells_their_coverage(cuiyuan, client):
    client.force_login(street_worker())
    made = client.post(
        "/api/servicelist/meal-points/",
        {
            "name": "翠苑助餐点",
            "kind": "meal_point",
            "region": "330106004001",
            "opened_on": "2024-01-01",
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    elsewhere = client.post(
        "/api/servicelist/meal-points/",
        {
            "name": "北山助餐点",
            "kind": "meal_point",
            "region": "330106001001",
            "opened_on": "2024-01-01",
        },
        content_type="application/json",
    )
    assert elsewhere.status_code == 400 and "region" in elsewhere.json()  # not the worker's
    found = client.get("/api/servicelist/meal-points/coverage/?region=330106004&date=2024-06-01")
    assert found.status_code == 200 and found.json()["covered"] == 1
    assert found.json()["target"] is None
    assert client.get("/api/servicelist/meal-points/coverage/?region=330106001").status_code == 403
