"""The phone page street-office workers log visits on (/m/visits/): who may open it, whose
elders it lists, and what it needs to keep working offline."""

import json
import re

import pytest
from django.test import Client

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import XIHU_COMMUNITY, XIHU_OTHER_STREET_COMMUNITY

pytestmark = pytest.mark.django_db

PAGE = "/m/visits/"


@pytest.fixture
def worker(policies):
    user = FieldWorkerFactory(username="cuiyuan1")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    return user


@pytest.fixture
def client_of():
    def signed_in(user):
        client = Client()
        client.force_login(user)
        return client

    return signed_in


def embedded(response, element_id):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [PAGE, f"{PAGE}sw.js"])
def test_the_page_and_its_service_worker_ask_for_a_login_first(url, method):
    response = getattr(Client(), method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_a_worker_sees_the_elders_of_their_own_areas_only(worker, client_of, make_elder):
    own = make_elder("childless_alone", name="张阿婆")
    other = make_elder("childless_alone", name="李阿公", lives=XIHU_OTHER_STREET_COMMUNITY)
    response = client_of(worker).get(PAGE)
    assert response.status_code == 200
    today = embedded(response, "today-data")
    assert [row["elder"] for row in today["elders"]] == [own.pk]
    assert today["owed"] == 1
    assert [row["name"] for row in today["elders"]] == ["张阿婆"]
    page = response.content.decode()
    assert "李阿公".encode("unicode_escape").decode() not in page
    assert other.id_number not in page and own.id_number not in page  # masked only
    assert "*" in today["elders"][0]["id_number"]


def test_a_user_without_visit_areas_gets_an_empty_list(policies, client_of, make_elder):
    make_elder("childless_alone")
    bureau = FieldWorkerFactory(username="bureau1")
    assign_role(user=bureau, role=Role.BUREAU, region=Region.objects.get(code="330106"))
    today = embedded(client_of(bureau).get(PAGE), "today-data")
    assert today["elders"] == [] and today["owed"] == 0


def test_the_page_carries_what_it_needs_to_log_and_send(worker, client_of):
    response = client_of(worker).get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-CN")
    page = response.content.decode()
    config = embedded(response, "phone-config")
    assert config["user"] == "cuiyuan1"
    assert config["todayUrl"] == "/api/visits/today/"
    assert config["batchUrl"] == "/api/visits/visits/batch/"
    assert config["serviceWorkerUrl"] == f"{PAGE}sw.js"
    assert config["labels"]["outcome"]["seen_well"] == "见到本人，情况良好"
    # One button per outcome, choices for mode and needs, all in Chinese.
    assert page.count('data-outcome="') == 5
    assert 'value="home"' in page and 'value="meals"' in page
    assert "今日探访" in page
    # The token for the API's CSRF check, and the assets served by the project (no CDN).
    assert response.cookies["csrftoken"].value
    assert 'name="csrf-token"' in page
    assert "/static/visits/phone.js" in page and "/static/visits/phone.css" in page
    assert "http://" not in page and "https://" not in page
    # Personal data: never kept by shared caches.
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_service_worker_is_served_from_the_pages_path(worker, client_of):
    response = client_of(worker).get(f"{PAGE}sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert f'const PAGE = "{PAGE}"' in body
    assert '"/static/visits/phone.js"' in body and '"/static/visits/phone.css"' in body


def test_the_page_only_answers_get(worker, client_of):
    assert client_of(worker).post(PAGE).status_code == 405


def test_each_elder_comes_with_a_phone_to_call_and_a_place_to_find_them(
    worker, client_of, make_elder
):
    with_phone = make_elder("childless_alone", name="王阿婆", phone="13812345678")
    without = make_elder("childless_alone", name="赵阿公", phone="")
    config = embedded(client_of(worker).get(PAGE), "phone-config")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    place = f"{community.parent.name} {community.name}"
    assert config["contacts"] == {
        str(with_phone.pk): {"phone": "13812345678", "address": place},
        str(without.pk): {"phone": "", "address": place},
    }
    # A tapped outcome can be undone for a few seconds before it is sent.
    assert 3 <= config["undoSeconds"] <= 10
    assert "%(time)s" in config["text"]["already_logged"]


def test_the_page_is_in_english_for_a_browser_that_asks_for_it(worker, client_of, make_elder):
    make_elder("childless_alone")
    client = client_of(worker)
    english = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Send now" in english and "立即发送" not in english
    assert "Not due today" in english
    chinese = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "立即发送" in chinese
