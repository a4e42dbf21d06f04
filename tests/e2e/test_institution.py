"""Institution staff in a real browser: from the home page to the bed board, admit the first
applicant on the waiting list to a free bed, see the bed occupied, then discharge them."""

import re


def _bed(page, code: str):
    return page.locator(f'.bed[data-bed-code="{code}"]')


def test_institution_admits_an_applicant_to_a_free_bed_and_discharges_them(login, page, step):
    login("institution")
    step("home")
    board_link = page.get_by_role("link", name=re.compile("^床位一览："))
    assert board_link.count() == 1  # one facility: their own
    board_link.click()
    page.wait_for_load_state()
    step("bed-board")
    assert "床位一览" in page.locator("h1").inner_text()
    free_before = int(page.locator("#count-free").inner_text())
    assert free_before > 0

    free_bed = page.locator('.bed[data-state="free"]').first
    bed_code = free_bed.get_attribute("data-bed-code")
    free_bed.get_by_role("link", name="办理入住").click()
    page.wait_for_load_state()
    step("admit-form")
    assert page.locator("input[name=bed_code]").input_value() == bed_code

    # The waiting list, ranked, with the rule that ranks each applicant: take the first.
    options = page.locator("select[name=application] option")
    first = options.nth(1)
    label = first.inner_text()
    assert "第1名" in label and "顺位" in label
    elder_code = re.search(r"（(E[0-9A-Z]+)）", label).group(1)
    page.select_option("select[name=application]", value=first.get_attribute("value"))
    step("applicant-chosen")
    page.get_by_role("button", name="提交").or_(page.locator("input[type=submit]")).first.click()
    page.wait_for_load_state()
    step("admitted")

    assert "/beds/" in page.url  # back on the board
    assert "已办理入住" in page.locator(".messagelist").inner_text()
    bed = _bed(page, bed_code)
    assert bed.get_attribute("data-state") == "occupied"
    assert elder_code in bed.inner_text()
    assert int(page.locator("#count-free").inner_text()) == free_before - 1

    bed.get_by_role("link", name="退住").click()
    page.wait_for_load_state()
    step("discharge-form")
    assert elder_code in page.locator("#content-main").inner_text()
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()
    step("discharged")
    assert "已退住" in page.locator(".messagelist").inner_text()
    assert _bed(page, bed_code).get_attribute("data-state") == "free"
    assert int(page.locator("#count-free").inner_text()) == free_before
