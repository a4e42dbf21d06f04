"""The dashboard's coverage section: per item of the list in force in the area, for the months
shown, the entitled, the reached and the rate (servicelist.coverage) with a bar chart drawn on
the server — titled, described, readable in contrast — and its table; and the upward
statistics as a download for those who reach both the lists and the payments, audited."""

import io
import re

import pytest
from openpyxl import load_workbook

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry
from dashboards.coverage import COLOURS, coverage_chart
from dashboards.selectors import Period
from regions.models import Region
from servicelist.coverage import coverage
from tests.dashboards.conftest import CUIYUAN, HAISHU, XIHU
from tests.servicelist.conftest import _load as load_service_items
from tests.servicelist.conftest import _service_items_loaded  # noqa: F401 (a fixture)
from tests.servicelist.test_coverage import D, make_elder

PERIOD = {"start": "2024-06", "end": "2024-06"}
JUNE = Period.of_months(D(2024, 6, 1), D(2024, 6, 1), D(2026, 1, 15))


@pytest.fixture
def june(request, rulebook):
    """Two 80-year-olds of Cuiyuan, one with the newspaper delivered in June."""
    from servicelist.models import ServiceDelivery, ServiceItem

    request.getfixturevalue("_service_items_loaded")
    load_service_items()
    reader = make_elder(D(1940, 3, 1), name="读报")
    make_elder(D(1941, 3, 1), name="未订")
    ServiceDelivery.objects.create(
        item=ServiceItem.objects.get(code="330106:17"),
        elder=reader,
        delivered_on=D(2024, 6, 2),
        provider_name="浙江老年报",
        source="manual",
    )


def section(response):
    text = response.content.decode()
    start = text.index('<section id="coverage"')
    return text[start : text.index("</section>", start)]


def test_a_bureau_sees_coverage_per_item_with_its_chart_and_table(june, client_for, bureau):
    response = client_for(bureau).get("/dashboard/", {"region": CUIYUAN, **PERIOD})
    assert response.status_code == 200
    shown = response.context["coverage"]
    expected = coverage(Region.objects.get(code=CUIYUAN), D(2024, 6, 1), D(2024, 6, 30))
    assert [(r.item.code, r.entitled, r.reached) for r in shown.rows] == [
        (r.item.code, r.entitled, r.reached) for r in expected
    ]
    html = section(response)
    assert '<tr data-item="330106:17">' in html
    newspaper = re.search(r'<tr data-item="330106:17">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', newspaper) == ["2", "1", "50.00%"]
    # The chart: an image with its title and description, one bar per item with a rate.
    assert 'role="img"' in html and "aria-labelledby=" in html
    assert '<title id="coverage-chart-title">' in html and '<desc id="coverage-chart-desc">' in html
    assert html.count("<g data-item=") == len(shown.chart.bars)
    assert '<g data-item="330106:17">' in html
    assert "<script" not in html and "<canvas" not in html


def test_the_chart_draws_each_rate_to_scale_and_leaves_out_items_without_one(june):
    rows = coverage(Region.objects.get(code=CUIYUAN), D(2024, 6, 1), D(2024, 6, 30))
    chart = coverage_chart(rows)
    newspaper = next(bar for bar in chart.bars if bar.code == "330106:17")
    assert newspaper.percent == "50.00%"
    assert newspaper.width == f"{chart.plot_width / 2:.1f}"
    assert chart.omitted == sum(1 for r in rows if r.rate is None) > 0
    assert len(chart.bars) + chart.omitted == len(rows)
    assert str(chart.omitted) in chart.description


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_colour_of_the_chart_reads_at_4_5_to_1_on_its_own_ground(june, client_for, bureau):
    for name in ("text", "bar", "grid"):
        assert contrast(COLOURS[name], COLOURS["ground"]) >= 4.5, name
    html = section(client_for(bureau).get("/dashboard/", {"region": CUIYUAN, **PERIOD}))
    used = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', html))
    assert used <= set(COLOURS.values()) and COLOURS["ground"] in used


def test_a_street_office_sees_its_coverage_but_no_statistics_download(june, client_for, user_with):
    street = user_with(Role.STREET_WORKER, CUIYUAN)
    client = client_for(street)
    response = client.get("/dashboard/", PERIOD)
    assert "coverage" in response.context["sections"]
    assert response.context["coverage"].statistics is False
    assert "service-statistics" not in section(response)
    download = client.get("/dashboard/service-statistics/", {"region": CUIYUAN, **PERIOD})
    assert download.status_code == 403
    assert not AuditEntry.objects.filter(object_type="service_statistics").exists()


def test_finance_has_no_coverage_section(june, client_for, user_with):
    finance = user_with(Role.FINANCE, XIHU)
    response = client_for(finance).get("/dashboard/", PERIOD)
    assert "coverage" not in response.context["sections"]
    assert "coverage" not in response.context


def test_a_bureau_downloads_the_statistics_of_the_area_shown_audited(june, client_for, bureau):
    client = client_for(bureau)
    page = section(client.get("/dashboard/", {"region": CUIYUAN, **PERIOD}))
    link = re.search(r'href="(/dashboard/service-statistics/[^"]*format=xlsx)"', page).group(1)
    response = client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    assert (
        'filename="service-statistics-330106004-202406-202406.xlsx"'
        in (response["Content-Disposition"])
    )
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert "2024-06" in sheet["A1"].value
    codes = [row[0].value for row in sheet.iter_rows(min_row=3)]
    assert codes == [r.item.code for r in june_rows()]
    entry = AuditEntry.objects.get(object_type="service_statistics")
    assert (entry.action, entry.user, entry.object_id) == (AuditAction.EXPORT, bureau, CUIYUAN)
    csv_file = client.get(
        "/dashboard/service-statistics/", {"region": CUIYUAN, **PERIOD, "format": "csv"}
    )
    assert csv_file.content.startswith("\ufeff项目代码".encode())


def june_rows():
    return coverage(Region.objects.get(code=CUIYUAN), D(2024, 6, 1), D(2024, 6, 30))


@pytest.mark.parametrize("code", [HAISHU, "330000"])
def test_the_statistics_of_an_area_outside_the_bureau_s_are_not_found(
    june, client_for, bureau, code
):
    response = client_for(bureau).get("/dashboard/service-statistics/", {"region": code})
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(object_type="service_statistics").exists()


def test_bad_months_are_refused_naming_the_field(june, client_for, bureau):
    response = client_for(bureau).get(
        "/dashboard/service-statistics/", {"start": "2024-13", "format": "pdf"}
    )
    assert response.status_code == 400
    assert {"start", "format"} <= set(response.context["form"].errors)
