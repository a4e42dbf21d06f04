"""The admin and the dashboard as each role uses them, in a real browser: every control and
every link that stands on its own at least 44 px tall and every text at 4.5:1 contrast on the
pages of each role's day; the lists people work through at 1366 px (stays, elders, the batch
review) with every column in view; and the personal-data flow (显示完整 with a reason, then the
look in the trail) on a 390×844 phone. Each page is kept as a screenshot; no page answers 5xx."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.accessibility import MIN_TAP_PX, page_problems
from tests.e2e.test_personal_data import ID_MASK, ID_WHOLE, watch_for_server_errors

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PHONE_WHOLE = re.compile(r"^1\d{10}$")


def go(url):
    def open_page(page):
        page.goto(url)

    return open_page


def follow(start, link):
    """Open ``start``, then its first link matching the CSS selector ``link``."""

    def open_page(page):
        page.goto(start)
        page.locator(link).first.click()

    return open_page


# The pages of each role's day, by name: the home page, the lists and forms they work in.
ROLE_PAGES = {
    "bureau": {
        "home": go("/admin/"),
        "dashboard": go("/dashboard/"),
        "elders": go("/admin/residents/elder/"),
        "elder": follow("/admin/residents/elder/", "#result_list tbody th a"),
        "rulebook": go("/admin/regions/policyvalue/"),
        "rule": follow("/admin/regions/policyvalue/", "#result_list tbody th a"),
        "waiting-lists": go("/admin/facilities/application/"),
        "staffing": go("/admin/facilities/facility/staffing/"),
    },
    "institution": {
        "home": go("/admin/"),
        "bed-board": follow("/admin/", "#daily-tasks a[href*='/beds/']"),
        "stays": go("/admin/facilities/stay/"),
        "correct-stay": follow("/admin/facilities/stay/", "#result_list a[href$='/correct/']"),
        "caregivers": go("/admin/facilities/caregiver/"),
        "admit": go("/admin/facilities/stay/admit/"),
    },
    "finance": {
        "home": go("/admin/"),
        "batches": go("/admin/subsidies/paymentbatch/"),
        "batch": follow("/admin/subsidies/paymentbatch/", "#result_list tbody th a"),
        "batch-review": follow("/admin/subsidies/paymentbatch/", "#result_list a:text('审阅明细')"),
        "runs": go("/admin/subsidies/allowancerun/"),
    },
    "auditor": {
        "home": go("/admin/"),
        "trail": go("/admin/accounts/auditentry/"),
        "trail-entry": follow("/admin/accounts/auditentry/", "#result_list tbody th a"),
        "dashboard": go("/dashboard/"),
    },
    "street": {
        "elders": go("/admin/residents/elder/"),
        "visits": go("/admin/visits/visit/"),
        "follow-ups": go("/admin/visits/followuptask/"),
    },
}


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_each_roles_pages_are_tappable_and_readable(login, page, step, role):
    errors = watch_for_server_errors(page)
    page.set_viewport_size(DESKTOP)
    login(role)
    problems = {}
    for name, open_page in ROLE_PAGES[role].items():
        open_page(page)
        page.wait_for_load_state("networkidle")
        step(name)
        found = page_problems(page)
        if found["small"] or found["faint"]:
            problems[f"{name} ({page.url})"] = found
    assert problems == {}, "under 44 px or under 4.5:1 contrast"
    assert errors == []


# --- the lists people work through, at 1366 px ----------------------------------------------

# How far the list's columns reach, and whether anything is cut off or scrolled away.
LIST_LAYOUT = """() => {
  const results = document.querySelector("#changelist .results");
  const headers = [...document.querySelectorAll("#result_list thead th")].map((th) => ({
    text: th.innerText.trim(),
    right: Math.round(th.getBoundingClientRect().right),
  }));
  return {
    pageScrolls: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    listScrolls: results.scrollWidth > results.clientWidth,
    viewport: window.innerWidth,
    headers,
  };
}"""


def assert_every_column_in_view(page):
    layout = page.evaluate(LIST_LAYOUT)
    assert not layout["pageScrolls"] and not layout["listScrolls"], layout
    cut = [h["text"] for h in layout["headers"] if h["right"] > layout["viewport"]]
    assert cut == [], f"columns past the right edge: {cut}"
    return [h["text"] for h in layout["headers"]]


def test_the_lists_at_1366_px_show_every_column_and_action(login, page, step):
    errors = watch_for_server_errors(page)
    page.set_viewport_size(DESKTOP)

    login("institution")
    page.goto("/admin/facilities/stay/?end_date__isnull=True")
    step("stays", full_page=False)
    assert_every_column_in_view(page)
    first = page.locator("#result_list tbody tr").first
    for action in ("退住", "转床", "更正"):
        link = first.get_by_role("link", name=action, exact=True)
        expect(link).to_be_in_viewport()
        # Short words, yet each a target at least 44 px wide as well as tall.
        box = link.bounding_box()
        assert box["width"] >= MIN_TAP_PX and box["height"] >= MIN_TAP_PX, (action, box)

    page.context.clear_cookies()
    login("bureau")
    page.goto("/admin/residents/elder/")
    step("elders", full_page=False)
    headers = assert_every_column_in_view(page)
    assert "姓名" in headers and "身份证号" in headers
    # Names on one line each, never one character per line.
    lines = page.evaluate(
        """() => [...document.querySelectorAll("#result_list tbody th a")]
             .map((a) => a.getClientRects().length)"""
    )
    assert lines and set(lines) == {1}

    page.context.clear_cookies()
    login("finance")
    page.goto("/admin/subsidies/paymentbatch/")
    page.locator("#result_list a:text('审阅明细')").first.click()
    page.wait_for_load_state()
    step("batch-review", full_page=False)
    headers = assert_every_column_in_view(page)
    # Who is paid and how much come first, and are in view without scrolling.
    assert headers.index("收款人") < headers.index("津贴项目")
    assert headers.index("金额（元）") < headers.index("津贴项目")
    row = page.locator("#result_list tbody tr").first
    expect(row.locator("td.field-amount_yuan")).to_be_in_viewport()
    expect(row.locator("td.field-payee")).to_be_in_viewport()
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", page.locator(".total-amount").inner_text())
    assert errors == []


# --- personal data on a phone -----------------------------------------------------------------


def reveal(box, reason):
    box.locator(".reveal-reason").fill(reason)
    box.locator(".reveal-button").click()


def test_whole_numbers_are_shown_on_request_on_a_phone_and_found_in_the_trail(login, page, step):
    errors = watch_for_server_errors(page)
    page.set_viewport_size(PHONE)
    login("bureau")
    page.goto("/admin/residents/elder/")
    step("elders")
    assert page_problems(page) == {"small": [], "faint": []}
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_load_state()
    elder_name = page.locator("input[name=name]").input_value()
    id_box = page.locator(".field-id_number_shown .reveal")
    phone_box = page.locator(".field-phone_shown .reveal")
    assert ID_MASK.match(id_box.locator(".reveal-value").inner_text().strip())
    # Nothing waits on the page but the masked values: no empty message box either.
    expect(id_box.locator(".reveal-error")).to_be_hidden()
    step("masked")
    assert page_problems(page) == {"small": [], "faint": []}

    id_box.locator(".reveal-button").click()  # no reason: refused, in words, nothing shown
    expect(id_box.locator(".reveal-error")).to_be_visible()
    step("reason-asked")
    assert page_problems(page) == {"small": [], "faint": []}

    reveal(id_box, "手机核对身份证号")
    expect(id_box.locator(".reveal-value")).to_have_text(ID_WHOLE)
    reveal(phone_box, "手机核对联系电话")
    expect(phone_box.locator(".reveal-value")).to_have_text(PHONE_WHOLE)
    step("revealed")
    assert page_problems(page) == {"small": [], "faint": []}
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.context.clear_cookies()
    login("auditor")
    page.goto("/admin/accounts/auditentry/")
    step("trail")
    assert page_problems(page) == {"small": [], "faint": []}
    for reason, act in (
        ("手机核对身份证号", "查看完整身份证号"),
        ("手机核对联系电话", "查看完整电话"),
    ):
        row = page.locator("#result_list tbody tr").filter(has_text=reason).first
        expect(row).to_contain_text(f"老年人：{elder_name}")
        expect(row).to_contain_text(act)
    assert errors == []
