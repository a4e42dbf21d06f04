"""Every demonstration role signs in through the admin login page in a real browser."""

import pytest

DEMO_LOGINS = ["admin", "bureau", "institution", "street", "finance", "auditor"]


@pytest.mark.parametrize("username", DEMO_LOGINS)
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
