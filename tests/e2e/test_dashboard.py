"""The bureau's dashboard in a real browser: the charts are drawn from the project's own static
files, with no console error and no request to any other host."""

from urllib.parse import urlsplit

CHARTS = ["compliance-chart", "allowances-chart", "beds-chart"]

# How many pixels of a canvas are painted (not fully transparent).
PAINTED_PIXELS = """(id) => {
    const canvas = document.getElementById(id);
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return painted;
}"""


def watch(page):
    """Console errors, page errors and every requested URL, from now on."""
    seen = {"errors": [], "urls": [], "failed": []}
    page.on(
        "console",
        lambda m: m.type == "error" and seen["errors"].append(f"{m.text} ({m.location['url']})"),
    )
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["urls"].append(request.url))
    page.on(
        "response",
        lambda response: response.status >= 400 and seen["failed"].append(response.url),
    )
    return seen


def assert_charts_drawn(page):
    for chart in CHARTS:
        canvas = page.locator(f"#{chart}")
        assert canvas.count() == 1, f"no {chart} on the page"
        assert canvas.get_attribute("data-drawn") == "true", f"{chart} was not drawn"
        box = canvas.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
        assert page.evaluate(PAINTED_PIXELS, chart) > 500, f"{chart} is blank"


def test_the_bureau_opens_the_dashboard_and_the_charts_render(login, page, step, e2e_server):
    login("bureau")
    step("admin")
    seen = watch(page)  # from the dashboard on
    page.locator("#dashboard-link").click()  # the admin home links the bureau to it
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/dashboard/"
    step("dashboard")

    assert page.locator("h1").inner_text().startswith("数据看板")
    assert "西湖区" in page.locator("h1").inner_text()
    assert_charts_drawn(page)
    # Every chart has its table, with the same figures in rows.
    for table in ("compliance-table", "allowances-table", "beds-table", "workforce-table"):
        assert page.locator(f"#{table} tbody tr").count() > 0, f"{table} is empty"
    assert page.locator("#gaps-table tbody tr").count() > 0
    assert "目标未设定" in page.locator("#workforce-table").inner_text()

    # A street of the district, through the picker.
    page.select_option("#id_region", "330106004")
    page.get_by_role("button", name="查看").click()
    page.wait_for_load_state("load")
    step("cuiyuan-street")
    assert "翠苑街道" in page.locator("h1").inner_text()
    assert page.locator("#compliance-chart").get_attribute("data-drawn") == "true"
    assert page.evaluate(PAINTED_PIXELS, "compliance-chart") > 500

    # Printable: the filter and navigation are hidden, the tables stay.
    page.emulate_media(media="print")
    step("print")
    assert not page.locator(".dashboard-filter").is_visible()
    assert page.locator("#compliance-table").is_visible()
    page.emulate_media(media="screen")

    assert seen["failed"] == []
    assert seen["errors"] == []

    # And back to the admin.
    page.get_by_role("link", name="返回管理后台").first.click()
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/admin/"
    server = urlsplit(e2e_server).netloc
    outside = [url for url in seen["urls"] if urlsplit(url).netloc != server]
    assert outside == [], f"requests to other hosts: {outside}"
    assert any(url.endswith("/static/dashboards/vendor/chart.umd.js") for url in seen["urls"])
