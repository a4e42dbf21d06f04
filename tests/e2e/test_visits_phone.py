"""A street-office worker logs visits on the phone page while the network is down: the visits
wait in the browser with their UUIDs, go out when the network is back, and the server holds
exactly one visit per UUID, even when an answer is lost and the page sends again."""

from playwright.sync_api import expect

from tests.e2e.accessibility import assert_tappable_and_readable

PAGE = "/m/visits/"
PHONE = {"width": 390, "height": 844}
SEND_TIMEOUT_MS = 20_000


def open_phone_page(page):
    page.set_viewport_size(PHONE)
    page.goto(PAGE)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    # The service worker has kept the page and its files: it opens offline from now on.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def owed_elders(page, count):
    owed = page.locator(".elder[data-state=owed]")
    expect(owed.first).to_be_visible()
    assert owed.count() >= count, "the demo street has too few elders still owed a visit"
    return [owed.nth(i).get_attribute("data-elder") for i in range(count)]


def log_visit(page, elder_id, outcome, *, mode=None, needs=(), notes=""):
    elder = page.locator(f".elder[data-elder='{elder_id}']")
    elder.locator(".elder-head").click()
    if mode:
        elder.locator(f"input[name=mode][value={mode}]").check()
    for need in needs:
        elder.locator(f"input[name=needs][value={need}]").check()
    if notes:
        elder.locator("textarea[name=notes]").fill(notes)
    elder.locator(f"button[data-outcome={outcome}]").click()
    expect(elder).to_have_attribute("data-state", "visited")


def journal_uuids(page, *statuses):
    selector = ", ".join(f"[data-status={status}]" for status in statuses)
    return page.locator(f".log-entry:is({selector})").evaluate_all(
        "entries => entries.map(e => e.dataset.uuid)"
    )


def stored_visits(page, elder_ids):
    """The server's visits of these elders, through the API with the page's own session."""
    visits = []
    for elder_id in elder_ids:
        response = page.request.get(f"/api/visits/visits/?elder={elder_id}&limit=500")
        assert response.ok, response.text()
        visits += response.json()["results"]
    return visits


def test_visits_logged_offline_are_sent_once_when_the_network_returns(login, page, step):
    login("street")
    open_phone_page(page)
    step("today-list", full_page=False)
    first, second = owed_elders(page, 2)

    page.context.set_offline(True)
    expect(page.locator("#network")).to_have_attribute("data-state", "offline")
    log_visit(page, first, "seen_well", needs=["meals"], notes="血压平稳，需要助餐")
    log_visit(page, second, "not_at_home", mode="phone")
    expect(page.locator("#queued-count")).to_have_text("2")
    expect(page.locator(".log-entry[data-status=queued]")).to_have_count(2)
    step("queued-offline", full_page=False)

    # Still offline, the page opens again from the service worker's copy, queue intact.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#queued-count")).to_have_text("2")
    expect(page.locator(f".elder[data-elder='{first}']")).to_have_attribute("data-state", "visited")
    step("reopened-offline", full_page=False)
    queued = journal_uuids(page, "queued")
    assert len(set(queued)) == 2

    page.context.set_offline(False)
    expect(page.locator("#network")).to_have_attribute("data-state", "online")
    expect(page.locator("#queued-count")).to_have_text("0", timeout=SEND_TIMEOUT_MS)
    # "accepted", or "duplicate" when an earlier try reached the server but its answer did not
    # reach the phone: either way the server holds the visit, checked below.
    sent = page.locator(".log-entry:is([data-status=accepted], [data-status=duplicate])")
    expect(sent).to_have_count(2)
    expect(page.locator("#sent-count")).to_have_text("2")
    step("sent", full_page=False)
    assert sorted(journal_uuids(page, "accepted", "duplicate")) == sorted(queued)

    # The demo district has older visits of its own: look at the ones logged here.
    visits = [v for v in stored_visits(page, [first, second]) if v["uuid"] in queued]
    assert sorted(v["uuid"] for v in visits) == sorted(queued)  # each UUID exactly once
    by_elder = {str(v["elder"]): v for v in visits}
    assert by_elder[first]["outcome"] == "seen_well"
    assert by_elder[first]["needs"] == ["meals"]
    assert by_elder[first]["notes"] == "血压平稳，需要助餐"
    assert by_elder[first]["worker"] == "street"
    assert (by_elder[second]["outcome"], by_elder[second]["mode"]) == ("not_at_home", "phone")


def test_a_lost_answer_is_sent_again_and_stored_once(login, page, step):
    login("street")
    open_phone_page(page)
    (elder,) = owed_elders(page, 1)
    lost = []

    def lose_the_answer(route):
        route.fetch()  # the server stores the visit ...
        lost.append(route.request.post_data_json)
        route.abort("connectionreset")  # ... but the phone never hears back

    page.route("**/api/visits/visits/batch/", lose_the_answer, times=1)
    with page.expect_event("requestfailed"):
        log_visit(page, elder, "needs_follow_up", needs=["medical"], notes="腿脚不便")
    expect(page.locator("#queued-count")).to_have_text("1")
    step("answer-lost", full_page=False)
    assert len(lost) == 1

    page.locator("#send-now").click()
    expect(page.locator(".log-entry[data-status=duplicate]")).to_have_count(
        1, timeout=SEND_TIMEOUT_MS
    )
    expect(page.locator("#queued-count")).to_have_text("0")
    step("sent-again", full_page=False)

    (uuid,) = journal_uuids(page, "duplicate")
    assert lost[0]["visits"][0]["uuid"] == uuid
    visits = stored_visits(page, [elder])
    assert [v["uuid"] for v in visits].count(uuid) == 1


# --- finding one's way on a long list ---------------------------------------------------------


def test_the_list_is_searched_filtered_and_shows_how_to_reach_each_elder(login, page, step):
    login("street")  # lands on the phone page itself
    open_phone_page(page)
    cards = page.locator("#elders .elder")
    expect(cards.first).to_be_visible()
    total = cards.count()
    # Those not due today are folded away, counted, until asked for.
    not_due = page.locator("#not-due")
    if not_due.is_visible():
        expect(page.locator("#elders-not-due .elder").first).to_be_hidden()
        assert int(page.locator("#not-due-count").inner_text()) > 0
    # Each card says where the elder lives and offers a call.
    first = cards.first
    expect(first.locator(".address")).to_contain_text("住址：")
    tel = first.locator("a.tel")
    if tel.count():
        assert tel.get_attribute("href").startswith("tel:") and len(tel.get_attribute("href")) > 9
    step("list", full_page=False)

    # A community chosen from the menu keeps only its elders.
    options = page.locator("#community option")
    assert options.count() >= 2, "the demo street should span more than one community"
    community = options.nth(1)
    code, name = community.get_attribute("value"), community.inner_text()
    page.select_option("#community", code)
    expect(page.locator("#shown-count")).not_to_be_empty()
    kept = page.locator(".elder").evaluate_all("cards => cards.map(c => c.textContent)")
    assert kept and all(name in text for text in kept)
    page.select_option("#community", "")

    # A name typed in the search box finds that elder alone (or their namesakes).
    wanted = first.locator(".name").inner_text()
    page.fill("#search", wanted)
    expect(page.locator("#elders .elder").first.locator(".name")).to_have_text(wanted)
    names = page.locator(".elder .name").all_inner_texts()
    assert names and all(wanted in n for n in names) and len(names) < total
    step("searched", full_page=False)
    page.fill("#search", "不存在的名字")
    expect(page.locator("#elders .empty")).to_be_visible()
    page.fill("#search", "")
    expect(page.locator("#elders .elder")).to_have_count(total)

    # The page's controls are big enough for a thumb and its text readable outdoors, the open
    # visit form included.
    first.locator(".elder-head").click()
    page.locator("#log summary").click()
    assert_tappable_and_readable(page)


def test_a_tap_can_be_undone_and_a_second_visit_the_same_day_is_asked_for(login, page, step):
    login("street")
    open_phone_page(page)
    first, second = owed_elders(page, 2)
    before = {e: len(stored_visits(page, [e])) for e in (first, second)}

    # Undone within its seconds: nothing reaches the server, the elder is owed again.
    elder = page.locator(f".elder[data-elder='{first}']")
    elder.locator(".elder-head").click()
    elder.locator("button[data-outcome=seen_well]").click()
    expect(elder).to_have_attribute("data-state", "visited")
    page.locator("#queue-message .undo").click()
    expect(page.locator("#queue-message")).to_contain_text("已撤销")
    expect(elder).to_have_attribute("data-state", "owed")
    expect(page.locator(".log-entry")).to_have_count(0)
    step("undone", full_page=False)

    # Logged: a double tap makes one visit, and opening the elder again asks before a second.
    other = page.locator(f".elder[data-elder='{second}']")
    other.locator(".elder-head").click()
    other.locator("button[data-outcome=seen_well]").dblclick()
    expect(page.locator(".log-entry")).to_have_count(1)
    expect(page.locator(".log-entry[data-status=accepted]")).to_have_count(
        1, timeout=SEND_TIMEOUT_MS
    )
    other.locator(".elder-head").click()
    expect(other.locator(".already")).to_be_visible()
    expect(other.locator("button[data-outcome=seen_well]")).to_be_disabled()
    step("asked-before-a-second-visit", full_page=False)

    assert len(stored_visits(page, [first])) == before[first]
    assert len(stored_visits(page, [second])) == before[second] + 1
