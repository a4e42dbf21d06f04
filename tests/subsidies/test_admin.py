import datetime

from django.contrib.auth.models import Permission, User
from django.urls import reverse

from subsidies.choices import BatchState
from subsidies.models import BatchExport
from tests.subsidies.test_allowance_amounts import run


def test_admin_shows_run_progress_and_batch_totals(make_elder, admin_client):
    make_elder(datetime.date(1939, 1, 1))
    result = run("330106", datetime.date(2024, 5, 1))
    page = admin_client.get(reverse("admin:subsidies_allowancerun_changelist"))
    assert page.status_code == 200 and "1/1" in page.content.decode()
    page = admin_client.get(reverse("admin:subsidies_paymentbatch_change", args=[result.batch_id]))
    assert "60.00" in page.content.decode()


def test_approve_action_is_offered_only_to_finance_with_the_permission(make_elder, client):
    make_elder(datetime.date(1939, 1, 1))
    run("330106", datetime.date(2024, 5, 1))
    from accounts.services import assign_role
    from regions.models import Region

    xihu = Region.objects.get(code="330106")
    clerk = User.objects.create_user("clerk", is_staff=True, is_superuser=False)
    clerk.user_permissions.add(Permission.objects.get(codename="view_paymentbatch"))
    assign_role(user=clerk, role="finance", region=xihu)
    client.force_login(clerk)
    page = client.get(reverse("admin:subsidies_paymentbatch_changelist"))
    assert page.status_code == 200
    assert 'value="approve"' not in page.content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    page = client.get(reverse("admin:subsidies_paymentbatch_changelist"))
    assert 'value="approve"' in page.content.decode()
    # A bureau officer with the same permissions reads batches but does not approve them.
    officer = User.objects.create_user("officer", is_staff=True, is_superuser=False)
    officer.user_permissions.add(*Permission.objects.filter(codename__endswith="paymentbatch"))
    assign_role(user=officer, role="bureau", region=xihu)
    client.force_login(officer)
    page = client.get(reverse("admin:subsidies_paymentbatch_changelist"))
    assert page.status_code == 200 and 'value="approve"' not in page.content.decode()


def test_admin_approve_then_export_records_the_export(make_elder, admin_client, admin_user):
    make_elder(datetime.date(1939, 1, 1))
    batch = run("330106", datetime.date(2024, 5, 1)).batch
    url = reverse("admin:subsidies_paymentbatch_changelist")
    confirm = admin_client.post(url, {"action": "approve", "_selected_action": [batch.pk]})
    assert "确认审核" in confirm.content.decode()  # a confirmation page first
    batch.refresh_from_db()
    assert batch.state == BatchState.DRAFT
    admin_client.post(url, {"action": "approve", "_selected_action": [batch.pk], "confirm": "yes"})
    batch.refresh_from_db()
    assert batch.state == BatchState.APPROVED and batch.approved_by == admin_user
    response = admin_client.post(url, {"action": "export_xlsx", "_selected_action": [batch.pk]})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert BatchExport.objects.get().exported_by == admin_user


def test_the_street_filter_works_on_a_province_batch(make_elder, admin_client):
    # A province's batch has no street as a child region: the filter still offers the streets
    # below it, and choosing one keeps that street's payees only.
    in_street = make_elder(datetime.date(1939, 1, 1), "330106001001")
    elsewhere = make_elder(datetime.date(1939, 2, 1), "330106002")
    result = run("330000", datetime.date(2024, 5, 1))
    url = reverse("admin:subsidies_paymentline_changelist")
    page = admin_client.get(url, {"batch__id__exact": result.batch_id})
    assert "330106001" in page.content.decode()
    page = admin_client.get(url, {"batch__id__exact": result.batch_id, "street": "330106001"})
    shown = {line.elder_id for line in page.context["cl"].result_list}
    assert shown == {in_street.pk}, (shown, elsewhere.pk)
