"""Personal data and the trail, in a real browser: an elder's page shows the ID number and phone
masked; 显示完整 asks for a reason and then shows the whole value; the auditor finds that look
in the audit trail by name and local time, filters it by user and exports it. No page of the
flow answers 5xx."""

import re
from pathlib import Path

from playwright.sync_api import expect

ID_MASK = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
ID_WHOLE = re.compile(r"^\d{17}[\dX]$")


def watch_for_server_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    return errors


def test_the_whole_id_number_is_shown_on_request_with_a_reason_and_audited(login, page, step):
    errors = watch_for_server_errors(page)
    login("bureau")
    page.goto("/admin/residents/elder/")
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_load_state()
    elder_name = page.locator("input[name=name]").input_value()
    id_box = page.locator(".field-id_number_shown .reveal")
    masked = id_box.locator(".reveal-value").inner_text().strip()
    assert ID_MASK.match(masked), masked
    # Nothing in the page holds the whole number: not the fields, not the form's values.
    digits = masked[:6]
    assert not re.search(rf"{digits}\d{{8}}", page.content())
    step("masked")

    # Asked without a reason, the button says what it needs and shows nothing.
    id_box.locator(".reveal-button").click()
    expect(id_box.locator(".reveal-error")).to_be_visible()
    assert ID_MASK.match(id_box.locator(".reveal-value").inner_text().strip())

    id_box.locator(".reveal-reason").fill("核对入住合同")
    id_box.locator(".reveal-button").click()
    expect(id_box.locator(".reveal-value")).to_have_text(ID_WHOLE)
    whole = id_box.locator(".reveal-value").inner_text()
    assert whole[:6] == masked[:6] and whole[-4:] == masked[-4:]
    step("revealed")

    # The auditor reads the look: the elder by name, the user, Beijing time, the reason.
    page.context.clear_cookies()
    login("auditor")
    page.goto("/admin/accounts/auditentry/")
    row = page.locator("#result_list tbody tr").filter(has_text="核对入住合同").first
    expect(row).to_contain_text(f"老年人：{elder_name}")
    expect(row).to_contain_text("查看完整身份证号")
    assert "residents.elder" not in row.inner_text()
    step("trail")

    page.get_by_role("link", name=re.compile("bureau")).first.click()  # the user filter
    page.wait_for_load_state()
    assert "user=" in page.url
    users = page.locator("#result_list tbody tr td.field-who").all_inner_texts()
    assert users and all("bureau" in u for u in users)
    step("trail-by-user")

    with page.expect_download() as download:
        page.locator("#audit-export").click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert content.startswith("\ufeff时间（北京时间）")
    assert "核对入住合同" in content and whole not in content
    assert errors == []


def test_an_english_browser_gets_the_pages_in_english(e2e_browser, e2e_server):
    context = e2e_browser.new_context(
        base_url=e2e_server,
        locale="en-US",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
    )
    try:
        page = context.new_page()
        errors = watch_for_server_errors(page)
        page.goto("/admin/login/")
        page.fill("input[name=username]", "street")
        page.fill("input[name=password]", "demo-pass-2024")
        page.click("input[type=submit]")
        page.wait_for_url("**/m/visits/")
        expect(page.locator("#send-now")).to_have_text("Send now")
        expect(page.locator("#search")).to_have_attribute("placeholder", "Search name or address")
        page.goto("/admin/")
        assert "Today's visits (phone page)" in page.locator("#daily-tasks").inner_text()
        assert errors == []
    finally:
        context.close()
