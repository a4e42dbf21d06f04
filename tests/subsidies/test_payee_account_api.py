"""The payee accounts API: accounts of the writer's area, the number always masked; POST records
or replaces an elder's or an insurer's account through subsidies.payees (scope checked, number
validated and encrypted, history kept); the whole number never in an answer or a log; the
insured list of an insurer as a file."""

import datetime
import logging

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import AuditEntry, RoleAssignment
from regions.models import Region
from subsidies.models import PayeeAccount
from subsidies.payees import account_number
from tests.subsidies.conftest import card_number_for
from tests.subsidies.test_insurers import CORPORATE, cover, insurer, premium, run

pytestmark = pytest.mark.django_db
URL = "/api/subsidies/payee-accounts/"


@pytest.fixture
def client_for(django_user_model, rulebook):
    def make(role, code="330106", *, permissions=()):
        user = django_user_model.objects.create_user(username=f"{role}{code}", password="x")
        RoleAssignment.objects.create(user=user, role=role, region=Region.objects.get(code=code))
        for codename in permissions:
            user.user_permissions.add(Permission.objects.get(codename=codename))
        client = APIClient()
        client.force_authenticate(django_user_model.objects.get(pk=user.pk))
        return client

    return make


def body(elder, number, **extra):
    return {
        "elder": elder.pk,
        "account_channel": "bank_card",
        "bank": "工商银行",
        "account_number": number,
        **extra,
    }


def test_finance_sets_and_changes_an_elders_account_masked_with_history(
    client_for, make_elder, caplog
):
    elder = make_elder(datetime.date(1940, 1, 1), account=False)
    client = client_for(Role.FINANCE)
    first, second = card_number_for(101), card_number_for(102)
    with caplog.at_level(logging.DEBUG):
        created = client.post(URL, body(elder, first), format="json")
        changed = client.post(URL, body(elder, second, account_holder="代领人"), format="json")
    assert created.status_code == 201 and changed.status_code == 200
    answer = changed.json()
    assert answer["account_number"] == "****" + second[-4:]
    assert answer["payee_type"] == "elder" and answer["holder_name"] == "代领人"
    assert answer["payee_id_number"] == elder.id_number[:6] + "********" + elder.id_number[-4:]
    assert account_number(PayeeAccount.objects.get(elder=elder)) == second
    listed = client.get(URL).json()
    detail = client.get(f"{URL}{answer['id']}/").json()
    history = client.get(f"{URL}{answer['id']}/history/").json()
    assert [v["account_number"] for v in history] == ["****" + second[-4:], "****" + first[-4:]]
    assert [v["history_type"] for v in history] == ["~", "+"]
    for text in (created.content, changed.content, str(listed), str(detail), str(history)):
        assert first not in str(text) and second not in str(text)
    assert first not in caplog.text and second not in caplog.text


def test_a_bad_number_is_a_400_naming_the_field(client_for, make_elder):
    elder = make_elder(datetime.date(1940, 1, 1), account=False)
    wrong = card_number_for(5)[:-1] + str((int(card_number_for(5)[-1]) + 1) % 10)
    response = client_for(Role.FINANCE).post(URL, body(elder, wrong), format="json")
    assert response.status_code == 400 and "account_number" in response.json()
    assert wrong not in response.content.decode()
    assert not PayeeAccount.objects.filter(elder=elder).exists()


def test_an_elder_outside_the_area_is_refused_like_one_that_does_not_exist(client_for, make_elder):
    ningbo_elder = make_elder(datetime.date(1940, 1, 1), "330203", account=False)
    client = client_for(Role.FINANCE)
    outside = client.post(URL, body(ningbo_elder, card_number_for(7)), format="json")
    missing = client.post(
        URL, {**body(ningbo_elder, card_number_for(7)), "elder": 10**9}, format="json"
    )
    assert outside.status_code == missing.status_code == 400
    assert outside.json() == missing.json()
    assert ningbo_elder.name not in outside.content.decode()
    assert not PayeeAccount.objects.filter(elder=ningbo_elder).exists()


@pytest.mark.parametrize("role", [Role.STREET_WORKER, Role.AUDITOR])
def test_roles_that_do_not_pay_cannot_set_accounts(client_for, make_elder, role):
    elder = make_elder(datetime.date(1940, 1, 1), account=False)
    response = client_for(role).post(URL, body(elder, card_number_for(8)), format="json")
    assert response.status_code in (400, 403)
    assert not PayeeAccount.objects.filter(elder=elder).exists()


def test_an_insurers_corporate_account_through_the_api(client_for):
    company = insurer(account=False)
    client = client_for(Role.BUREAU)
    refused = client.post(
        URL,
        {"insurer": company.pk, "account_channel": "bank_card", "bank": "x", "account_number": "1"},
        format="json",
    )
    assert refused.status_code == 400 and "account_channel" in refused.json()
    response = client.post(
        URL,
        {
            "insurer": company.pk,
            "account_channel": "corporate_account",
            "bank": "工商银行",
            "account_number": CORPORATE,
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["payee_id_number"] == company.uscc
    assert CORPORATE not in response.content.decode()


def test_the_insured_list_endpoint_masks_for_finance_and_gives_the_insurers_copy(
    client_for, make_elder
):
    premium("330106")
    company = insurer()
    cover("xihu_accident_insurance", "330106", company)
    elder = make_elder(datetime.date(1950, 3, 1), categories=["minimum_living"])
    run("330106")
    url = f"/api/subsidies/insurers/{company.pk}/insured-list/"
    finance = client_for(Role.FINANCE)
    masked = finance.get(url, {"period": "2025"})
    assert masked.status_code == 200
    content = b"".join(masked.streaming_content).decode("utf-8-sig")
    assert elder.id_number not in content and elder.id_number[-4:] in content
    assert finance.get(url, {"period": "2025", "full_ids": "true"}).status_code == 403
    assert finance.get(url, {"period": "2025-13"}).status_code == 400
    trusted = client_for(Role.FINANCE, "330100", permissions=["export_full_insured_list"])
    full = trusted.get(url, {"period": "2025", "full_ids": "true", "reason": "投保"})
    assert full.status_code == 200
    assert elder.id_number in b"".join(full.streaming_content).decode("utf-8-sig")
    assert AuditEntry.objects.filter(object_type="subsidies.insurer").count() == 2
    street = client_for(Role.STREET_WORKER)
    assert street.get(url, {"period": "2025"}).status_code == 403
