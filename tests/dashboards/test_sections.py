"""Each section of the dashboard against data built for it: the figures are those of the owning
app's selectors, for the area and period asked, and nothing from outside the area."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command

from dashboards import selectors
from dashboards.selectors import Period
from facilities import services as facilities
from facilities.models import Bed
from facilities.selectors import staffing_report, staffing_reports, workforce_figures
from regions.catalog import get_key
from regions.models import PolicyValue, Region
from regions.selectors import policy_gaps
from residents.id_numbers import with_check_character
from residents.selectors import free_assessments_due
from residents.services import record_legacy_assessment, set_category
from subsidies.choices import BatchKind, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.payees import set_payee_account
from subsidies.schemes import load_schemes
from tests.dashboards.conftest import (
    BEISHAN,
    BEISHAN_COMMUNITY,
    CUIYUAN,
    CUIYUAN_COMMUNITY,
    HAISHU,
    XIHU,
)
from tests.factories import (
    BedFactory,
    CaregiverFactory,
    ElderFactory,
    FacilityFactory,
    FieldWorkerFactory,
    VisitWorkerFactory,
)
from tests.subsidies.conftest import card_number_for
from visits import services as visits
from visits.selectors import compliance, month_bounds

D = datetime.date
TODAY = D(2026, 1, 15)
MARCH_APRIL = Period.of_months(D(2024, 3, 1), D(2024, 4, 1), TODAY)
ON = D(2024, 4, 30)

_serial = iter(range(1, 1000))


BORN_1950 = D(1950, 5, 1)
JANUARY = D(2024, 1, 1)


def elder(born=BORN_1950, *, lives=None, registered=XIHU, **kwargs):
    """An elder aged 60–79 in 2024 (no high-age rule applies), living and registered where
    asked."""
    return ElderFactory(
        id_number=with_check_character(f"330106{born:%Y%m%d}{next(_serial):03d}"),
        hukou_region=Region.objects.get(code=registered),
        residence_region=Region.objects.get(code=lives) if lives else None,
        **kwargs,
    )


# --- visit compliance by street and month -----------------------------------------------------


@pytest.fixture
def visitor(rulebook):
    user = FieldWorkerFactory(username="xihu-visitor")
    for street in (CUIYUAN, BEISHAN):
        VisitWorkerFactory(
            user=user, area=Region.objects.get(code=street), start_date=D(2023, 1, 1)
        )

    def log(who, when, outcome="seen_well"):
        visits.record_visit(
            uuid=uuid.uuid4(),
            elder=who,
            worker=user,
            visited_at=datetime.datetime.fromisoformat(when),
            mode="home",
            outcome=outcome,
        )

    return log


def monthly_elder(lives):
    person = elder(lives=lives)
    set_category(elder=person, category="empty_nest", start_date=D(2020, 1, 1))
    return person


def test_compliance_is_the_visits_selector_per_street_and_month(visitor, region):
    seen_twice = monthly_elder(CUIYUAN_COMMUNITY)
    seen_in_april = monthly_elder(CUIYUAN_COMMUNITY)
    never = monthly_elder(BEISHAN_COMMUNITY)
    visitor(seen_twice, "2024-03-05T10:00:00+08:00")
    visitor(seen_twice, "2024-04-05T10:00:00+08:00")
    visitor(seen_in_april, "2024-03-07T10:00:00+08:00", outcome="not_at_home")  # not counted
    visitor(seen_in_april, "2024-04-30T23:30:00+08:00")
    assert never.pk

    table = selectors.compliance_by_month(region(XIHU), MARCH_APRIL)

    assert table.group_by == "street"
    rows = {row.key: row for row in table.rows}
    assert set(rows) == {CUIYUAN, BEISHAN}
    assert rows[CUIYUAN].label == "翠苑街道"
    assert [(c.done, c.owed) for c in rows[CUIYUAN].cells] == [(1, 2), (2, 2)]
    assert [(c.done, c.owed) for c in rows[BEISHAN].cells] == [(0, 1), (0, 1)]
    assert [(c.done, c.owed) for c in table.total.cells] == [(1, 3), (2, 3)]
    assert [c.rate for c in table.total.cells] == [Decimal("0.3333"), Decimal("0.6667")]
    assert rows[CUIYUAN].cells[1].meets_target is True  # Xihu's target is 100%
    assert rows[CUIYUAN].cells[0].meets_target is False
    # The same figures as visits.selectors.compliance for each month.
    for i, month in enumerate(table.months):
        start, end = month_bounds(month.month)
        report = compliance(area=region(XIHU), start=start, end=end, group_by="street")
        assert [(r.cells[i].done, r.cells[i].owed) for r in table.rows] == [
            (x.done, x.owed) for x in report.lines
        ]
    chart = table.chart()
    assert chart["labels"] == ["北山街道", "翠苑街道"]
    assert [d["label"] for d in chart["datasets"]] == ["2024-03", "2024-04"]
    assert chart["datasets"][1]["data"] == ["0.00", "100.00"]
    assert chart["datasets"][0]["target"] == "100.00"


def test_compliance_within_a_street_is_by_community(visitor, region):
    monthly_elder(CUIYUAN_COMMUNITY)
    monthly_elder("330106004002")
    monthly_elder(BEISHAN_COMMUNITY)  # outside the street
    table = selectors.compliance_by_month(region(CUIYUAN), MARCH_APRIL)
    assert table.group_by == "community"
    assert [row.key for row in table.rows] == [CUIYUAN_COMMUNITY, "330106004002"]
    assert [(c.done, c.owed) for c in table.total.cells] == [(0, 2), (0, 2)]


def test_months_not_begun_are_noted_and_the_running_month_counts_to_today(visitor, region):
    monthly_elder(CUIYUAN_COMMUNITY)
    period = Period.of_months(D(2024, 4, 1), D(2024, 5, 1), today=D(2024, 4, 10))
    table = selectors.compliance_by_month(region(XIHU), period)
    april, may = table.months
    assert (april.start, april.end) == (D(2024, 4, 1), D(2024, 4, 10))
    assert may.report is None and may.note == "尚未开始"
    assert table.total.cells[1] is None


def test_a_month_whose_target_is_not_set_says_so_instead_of_a_rate(visitor, region):
    monthly_elder(CUIYUAN_COMMUNITY)
    # A "not set" row never hides a value in force above it: from April nothing above is set.
    PolicyValue.objects.filter(key="visit_coverage_target").update(effective_to=D(2024, 3, 31))
    not_set(CUIYUAN, "visit_coverage_target", D(2024, 4, 1))
    table = selectors.compliance_by_month(region(CUIYUAN), MARCH_APRIL)
    march, april = table.months
    assert march.report is not None and march.note == ""
    assert april.report is None
    assert april.note.startswith("所需规则未设定：visit_coverage_target")
    assert table.total.cells[1] is None


# --- allowances by month and scheme -----------------------------------------------------------


@pytest.fixture
def schemes(rulebook):
    load_schemes()
    return Scheme.objects.get(code="high_age_80_89"), Scheme.objects.get(code="high_age_90_99")


def batch(code, period, kind=BatchKind.REGULAR):
    return PaymentBatch.objects.create(
        region=Region.objects.get(code=code), period=period, kind=kind
    )


def line(batch, scheme, person, amount, **kwargs):
    return PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=kwargs.pop("period", batch.period),
        elder=person,
        amount=Decimal(amount),
        **kwargs,
    )


@pytest.fixture
def payments(schemes):
    eighty, ninety = schemes
    cuiyuan_1 = elder(registered=CUIYUAN_COMMUNITY)
    cuiyuan_2 = elder(registered=CUIYUAN_COMMUNITY)
    beishan = elder(registered=BEISHAN_COMMUNITY)
    gone = elder(registered=CUIYUAN_COMMUNITY)
    march = batch(XIHU, D(2024, 3, 1))
    line(march, eighty, cuiyuan_1, "100.00")
    to_recover = line(march, eighty, beishan, "0.10")
    line(march, eighty, cuiyuan_2, "0.20")
    line(march, ninety, cuiyuan_1, "55.55")
    line(march, eighty, gone, "50.00", status=LineStatus.CANCELLED)  # not paid
    april = batch(XIHU, D(2024, 4, 1))
    line(april, eighty, cuiyuan_1, "100.00")
    adjustment = batch(XIHU, D(2024, 4, 1), kind=BatchKind.ADJUSTMENT)
    line(
        adjustment,
        eighty,
        beishan,
        "-0.10",
        kind=LineKind.RECOVERY,
        period=D(2024, 3, 1),
        corrects=to_recover,
    )
    line(batch(XIHU, D(2024, 5, 1)), eighty, cuiyuan_1, "100.00")  # after the period
    ningbo = elder(registered=HAISHU)
    line(batch(HAISHU, D(2024, 3, 1)), eighty, ningbo, "999.99")  # another county
    # Cash goes to an account: an elder without one is counted as held, not paid.
    for n, person in enumerate((cuiyuan_1, cuiyuan_2, beishan, gone, ningbo)):
        set_payee_account(
            payee=person, channel="bank_card", bank="测试银行", account_number=card_number_for(n)
        )
    return eighty, ninety


def test_allowance_totals_are_exact_per_month_and_scheme(payments, bureau, region):
    eighty, ninety = payments
    table = selectors.allowance_totals(bureau, region(XIHU), MARCH_APRIL)
    march, april = D(2024, 3, 1), D(2024, 4, 1)
    assert table.schemes == [(eighty.code, eighty.label), (ninety.code, ninety.label)]
    assert table.cell(march, eighty.code) == selectors.AllowanceCell(3, Decimal("100.30"))
    assert table.cell(march, ninety.code) == selectors.AllowanceCell(1, Decimal("55.55"))
    # A recovery paid in April's adjustment batch nets against April's payments.
    assert table.cell(april, eighty.code) == selectors.AllowanceCell(2, Decimal("99.90"))
    assert table.cell(april, ninety.code) is None
    assert table.month_totals[march] == selectors.AllowanceCell(4, Decimal("155.85"))
    assert table.total == selectors.AllowanceCell(6, Decimal("255.75"))
    assert all(isinstance(c.amount, Decimal) for c in table.cells.values())
    assert table.chart()["datasets"][0]["data"] == ["100.30", "99.90"]
    assert table.chart()["datasets"][1]["data"] == ["55.55", "0.00"]


def test_a_street_s_allowances_are_those_of_the_elders_registered_there(payments, bureau, region):
    eighty, ninety = payments
    table = selectors.allowance_totals(bureau, region(CUIYUAN), MARCH_APRIL)
    assert table.cell(D(2024, 3, 1), eighty.code) == selectors.AllowanceCell(2, Decimal("100.20"))
    assert table.cell(D(2024, 4, 1), eighty.code) == selectors.AllowanceCell(1, Decimal("100.00"))
    assert table.total == selectors.AllowanceCell(4, Decimal("255.75"))


def test_allowances_show_exact_amounts_on_the_page(payments, bureau, client_for):
    response = client_for(bureau).get("/dashboard/", {"start": "2024-03", "end": "2024-04"})
    html = response.content.decode()
    assert "100.30" in html and "55.55" in html and "255.75" in html
    assert "999.99" not in html  # Ningbo's batch
    assert '<script id="allowances-data" type="application/json">' in html


# --- staffing, beds and waiting lists ---------------------------------------------------------


@pytest.fixture
def homes(rulebook):
    """Two institutions and a street centre in Xihu, one institution in Ningbo."""
    cuiyuan, beishan = Region.objects.get(code=CUIYUAN), Region.objects.get(code=BEISHAN)
    short = FacilityFactory(name="缺员养老院", region=cuiyuan)
    staffed = FacilityFactory(name="满员养老院", region=beishan)
    centre = FacilityFactory(name="翠苑中心", kind="street_centre", region=cuiyuan)
    ningbo = FacilityFactory(name="海曙养老院", region=Region.objects.get(code=HAISHU))

    def resident(home, level, start=JANUARY, **bed):
        person = elder()
        facilities.admit_to_bed(
            elder=person, bed=BedFactory(facility=home, **bed), start_date=start
        )
        if level:
            record_legacy_assessment(
                elder=person, assessed_on=start, assessor="评估员", level=level
            )
        return person

    for level in ["severe", "severe", "severe", "severe", "moderate", None]:
        resident(short, level)
    left = resident(short, "intact")
    facilities.discharge(elder=left, end_date=D(2024, 4, 1))  # bed free on ON
    out_of_use = BedFactory(facility=short)
    Bed.objects.filter(pk=out_of_use.pk).update(is_active=False)  # not counted
    resident(short, None, bed_type="home_care", home_address="翠苑一区1幢")  # at home
    resident(short, "severe", start=D(2024, 5, 1))  # admitted after ON
    employ = facilities.employ_caregiver
    employ(caregiver=CaregiverFactory(), facility=short, start_date=D(2023, 1, 1))
    resident(staffed, "intact")
    employ(caregiver=CaregiverFactory(), facility=staffed, start_date=D(2023, 1, 1))
    BedFactory(facility=centre)
    resident(ningbo, "severe")
    for n in range(3):
        facilities.apply_for_place(facility=short, elder=elder(), applied_on=D(2024, 2, n + 1))
    withdrawn = facilities.apply_for_place(facility=short, elder=elder(), applied_on=D(2024, 2, 9))
    facilities.withdraw_application(application=withdrawn, on=D(2024, 3, 1))
    offered = facilities.apply_for_place(facility=staffed, elder=elder(), applied_on=D(2024, 2, 9))
    facilities.offer_bed(application=offered, bed=BedFactory(facility=staffed), on=D(2024, 3, 1))
    return {"short": short, "staffed": staffed, "centre": centre, "ningbo": ningbo}


def test_staffing_is_the_facilities_staffing_report_for_every_institution(homes, bureau, region):
    facilities_ = list(selectors.area_facilities(bureau, region(XIHU)))
    assert homes["ningbo"] not in facilities_
    reports = staffing_reports(facilities_, ON)
    # Institutions only (a street centre has no staffing ratio), the most short-staffed first.
    assert [r.facility for r in reports] == [homes["short"], homes["staffed"]]
    for report in reports:
        assert report.as_dict() == staffing_report(report.facility, ON).as_dict()
    short = reports[0]
    assert short.counts == {"fully_disabled": 4, "partly_disabled": 1, "self_caring": 0}
    assert len(short.unassessed) == 1 and short.actual == 1
    assert short.required == 2 and short.shortfall == 1  # ceil(4/3 + 1/6) at 1:3 and 1:6
    assert reports[1].shortfall == 0


def test_beds_and_waiting_lists_per_facility(homes, bureau, region):
    facilities_ = list(selectors.area_facilities(bureau, region(XIHU)))
    lines = {line.facility.name: line for line in selectors.beds_and_waiting(facilities_, ON)}
    assert set(lines) == {"缺员养老院", "满员养老院", "翠苑中心"}
    short = lines["缺员养老院"]
    # 6 residents, the discharged one's bed and the bed taken in May: 8 beds, 6 occupied.
    assert (short.beds, short.occupied, short.free) == (8, 6, 2)
    assert short.occupancy == Decimal("0.7500") and short.occupancy_percent == "75.00"
    assert (short.home_care_beds, short.home_care_occupied) == (1, 1)
    assert (short.waiting, short.offered, short.waiting_list_length) == (3, 0, 3)
    staffed = lines["满员养老院"]
    assert (staffed.beds, staffed.occupied, staffed.waiting, staffed.offered) == (2, 1, 0, 1)
    centre = lines["翠苑中心"]
    assert (centre.beds, centre.occupied, centre.occupancy_percent) == (1, 0, "0.00")


def test_a_street_sees_its_own_facilities(homes, bureau, region):
    names = {f.name for f in selectors.area_facilities(bureau, region(CUIYUAN))}
    assert names == {"缺员养老院", "翠苑中心"}


def test_the_page_shows_the_shortfall_and_the_waiting_list(homes, bureau, client_for):
    response = client_for(bureau).get("/dashboard/", {"start": "2024-03", "end": "2024-04"})
    html = response.content.decode()
    assert '<strong class="badge not-met">1</strong>' in html
    assert '<script id="beds-data" type="application/json">' in html
    assert "海曙养老院" not in html
    chart = response.context["beds_chart"]
    assert chart["occupied"][chart["labels"].index("缺员养老院")] == 6
    assert chart["waiting"][chart["labels"].index("缺员养老院")] == 3


# --- workforce against the targets ------------------------------------------------------------


def test_a_target_the_rulebook_leaves_not_set_is_shown_as_not_set_never_as_met(
    homes, bureau, client_for, region
):
    # Every institution bed in Xihu a nursing bed: the share is 1, but Xihu sets no target.
    BedFactory(facility=homes["staffed"], bed_type="nursing")
    figures, lines = selectors.workforce(region(XIHU), ON)
    assert figures == workforce_figures(region(XIHU), ON)
    by_key = {line.key: line for line in lines}
    nursing = by_key["target_nursing_bed_share"]
    assert nursing.target is None and nursing.met is None
    assert nursing.status == "not_set"
    assert by_key["target_caregivers_per_10k"].target is not None
    html = client_for(bureau).get("/dashboard/", {"start": "2024-03", "end": "2024-04"})
    row = html.content.decode().split('data-key="target_nursing_bed_share"')[1].split("</tr>")[0]
    assert "目标未设定" in row and "达标" not in row.replace("目标未设定", "")


def test_targets_met_not_met_and_without_data(homes, region):
    caregiver = homes["staffed"].employments.get().caregiver
    _figures, lines = selectors.workforce(region(XIHU), ON)
    by_key = {line.key: line for line in lines}
    # No certified caregiver yet: none per 10,000 elders, and no share to compare.
    assert by_key["target_caregivers_per_10k"].status == "not_met"
    assert by_key["target_senior_caregiver_share"].status == "no_data"
    facilities.add_certificate(
        caregiver=caregiver, kind="caregiver_skill", grade="senior", issued_on=D(2023, 1, 1)
    )
    _figures, lines = selectors.workforce(region(XIHU), ON)
    by_key = {line.key: line for line in lines}
    assert by_key["target_caregivers_per_10k"].status == "met"
    assert by_key["target_senior_caregiver_share"].status == "met"  # 1 of 1 against 0.2
    assert by_key["target_first_aid_share"].status == "not_met"  # 0 of 1 against 0.7


# --- free ability assessments due -------------------------------------------------------------


def test_assessments_due_by_street_with_the_most_overdue_named(bureau, region):
    never = elder(D(1950, 1, 1), lives=CUIYUAN_COMMUNITY)  # due since turning 60
    two_years = elder(D(1950, 1, 1), lives=CUIYUAN_COMMUNITY)
    record_legacy_assessment(
        elder=two_years, assessed_on=D(2022, 4, 1), assessor="评估员", level="intact"
    )
    due_today = elder(D(1950, 1, 1), lives=BEISHAN_COMMUNITY)
    record_legacy_assessment(
        elder=due_today, assessed_on=D(2022, 4, 30), assessor="评估员", level="intact"
    )
    fresh = elder(D(1939, 1, 1), lives=CUIYUAN_COMMUNITY)  # 85: yearly, assessed this month
    record_legacy_assessment(
        elder=fresh, assessed_on=D(2024, 4, 1), assessor="评估员", level="intact"
    )
    elder(D(1950, 1, 1), lives=None, registered=HAISHU)  # not in Xihu

    due = selectors.assessments_due(bureau, region(XIHU), ON)

    assert (due.due, due.overdue) == (3, 2)
    assert due.by_area == [(BEISHAN, "北山街道", 1, 0), (CUIYUAN, "翠苑街道", 2, 2)]
    assert [d.elder_id for d in due.most_overdue] == [never.pk, two_years.pk]
    assert due.most_overdue[1].due_on == D(2024, 4, 1)
    assert due.most_overdue[0].last_assessed_on is None
    expected = free_assessments_due(ON, elders=selectors.area_elders(bureau, region(XIHU)))
    assert {d.elder_id for d in expected} == {never.pk, two_years.pk, due_today.pk}


# --- the rulebook's gaps ----------------------------------------------------------------------


def not_set(code, key, since=JANUARY):
    return PolicyValue.objects.create(
        region=Region.objects.get(code=code),
        key=key,
        value=None,
        unit=get_key(key).unit,
        effective_from=since,
        citation="测试",
    )


def test_gaps_are_those_the_area_resolves_to_and_those_below_it(rulebook, region):
    key = "operating_subsidy_transfer_coefficient"  # not set by the province
    assert policy_gaps().filter(key=key, region__code="330000").exists()
    PolicyValue.objects.create(
        region=region(XIHU),
        key=key,
        value=Decimal("1.0"),
        unit=get_key(key).unit,
        effective_from=D(2024, 1, 1),
        citation="测试",
    )
    below = not_set(CUIYUAN, "e_allowance_high_age_universal", D(2024, 2, 1))
    elsewhere = not_set(HAISHU, "high_age_allowance_80_89")

    xihu = {(g.region.code, g.key): g for g in selectors.gaps_for(region(XIHU), ON)}
    assert ("330000", key) not in xihu  # Xihu gives the value itself
    assert xihu[(CUIYUAN, below.key)].applies_here is False
    assert (HAISHU, elsewhere.key) not in xihu
    assert all(g.applies_here for (code, _), g in xihu.items() if code in ("330000", XIHU))
    assert ("330000", "nursing_subsidy_home_fully_unable") in xihu

    haishu = {(g.region.code, g.key) for g in selectors.gaps_for(region(HAISHU), ON)}
    assert ("330000", key) in haishu and (HAISHU, elsewhere.key) in haishu


def test_the_province_s_gaps_are_the_policy_gaps_command_s_in_force(rulebook, region, tmp_path):
    out = tmp_path / "gaps.csv"
    with out.open("w") as handle:
        call_command("policy_gaps", "--format", "csv", stdout=handle)
    listed = {
        (row.split(",")[0], row.split(",")[2]) for row in out.read_text().splitlines()[1:] if row
    }
    shown = {(g.region.code, g.key) for g in selectors.gaps_for(region("330000"), ON)}
    in_force = {
        (g.region.code, g.key)
        for g in policy_gaps()
        if g.effective_from <= ON and (g.effective_to is None or g.effective_to >= ON)
    }
    assert shown == in_force and shown <= listed and shown
