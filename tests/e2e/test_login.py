"""Every demonstration role signs in through the admin login page in a real browser."""

import pytest

DEMO_LOGINS = ["admin", "bureau", "institution", "street", "finance", "auditor"]


@pytest.mark.parametrize("username", [name for name in DEMO_LOGINS if name != "street"])
def test_each_role_signs_in_and_sees_the_chinese_admin(login, page, step, username):
    login(username)
    step("signed-in")
    assert page.url.endswith("/admin/")
    # zh-CN browser, zh-hans interface: the greeting and the logout button are in Chinese.
    assert "欢迎" in page.locator("#user-tools").inner_text()
    assert page.get_by_role("button", name="注销").is_visible()


def test_a_wrong_password_is_refused_on_the_login_page(page, step):
    page.goto("/admin/login/")
    page.fill("input[name=username]", "auditor")
    page.fill("input[name=password]", "not-the-password")
    page.click("input[type=submit]")
    step("refused")
    assert "/admin/login/" in page.url
    assert page.locator(".errornote").is_visible()


def test_a_street_worker_lands_on_the_phone_page_and_the_site_link_works(login, page, step):
    page.set_viewport_size({"width": 390, "height": 844})
    login("street")
    step("landed", full_page=False)
    assert page.url.endswith("/m/visits/")
    assert page.locator("body").get_attribute("data-ready") == "true"
    # The admin is still there for them, with the phone page first among their tasks …
    page.goto("/admin/")
    phone_task = page.locator("#daily-tasks a[href='/m/visits/']")
    assert phone_task.is_visible()
    # … and its 查看站点 link leads back to it instead of a 404.
    response = page.goto(page.locator("#user-tools a").first.get_attribute("href"))
    assert response.ok
    assert page.url.endswith("/m/visits/")


def test_the_site_link_and_the_icon_answer_for_every_page(login, page):
    login("finance")
    assert page.goto("/").ok and page.url.endswith("/admin/")
    icon = page.request.get("/favicon.ico")
    assert icon.ok and "svg" in icon.headers["content-type"]
