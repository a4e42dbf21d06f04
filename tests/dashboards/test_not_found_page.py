"""A region outside the user's areas answers the dashboard's own 404 page, in the user's
language, with the areas they may open — never the framework's (English, debug) page."""

from django.test import override_settings

from tests.dashboards.conftest import CUIYUAN, HAISHU


@override_settings(DEBUG=True)
def test_an_out_of_scope_region_answers_a_chinese_not_found_page(client_for, bureau):
    response = client_for(bureau).get("/dashboard/", {"region": HAISHU})
    assert response.status_code == 404
    body = response.content.decode()
    assert f"区划 {HAISHU} 不存在，或不在您的工作范围内。" in body
    assert f"?region={CUIYUAN}" in body  # an area they may open instead
    assert "Page not found" not in body and "Traceback" not in body
