"""Deliveries in kind: one model for any item, providers' spreadsheets (every bad row reported,
a resend changes nothing) and the providers' API, each write in the writer's scope."""

import datetime
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from openpyxl import Workbook

from accounts.choices import Role
from accounts.models import RoleAssignment
from regions.models import Region
from residents.id_numbers import with_check_character
from servicelist.importing import COLUMNS, import_deliveries
from servicelist.models import ServiceDelivery
from tests.factories import ElderFactory, FacilityFactory, MealPointFactory

D = datetime.date


def region(code):
    return Region.objects.get(code=code)


@pytest.fixture
def people(service_items):
    cuiyuan, beishan = region("330106004001"), region("330106001001")
    found = {
        "here": ElderFactory(
            id_number=with_check_character("33010619400101001"),
            name="翠苑老人",
            hukou_region=cuiyuan,
            residence_region=cuiyuan,
        ),
        "there": ElderFactory(
            id_number=with_check_character("33010619400101002"),
            name="北山老人",
            hukou_region=beishan,
            residence_region=beishan,
        ),
        "canteen": FacilityFactory(name="翠苑老年食堂", region=region("330106004")),
    }
    # Xihu's meals (330106:10) are served at registered meal points: the canteen and one
    # named point.
    MealPointFactory(name="翠苑老年食堂", kind="canteen", facility=found["canteen"])
    MealPointFactory(name="翠苑助餐点")
    return found


def csv_bytes(rows):
    lines = [",".join(COLUMNS), *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def good_rows(people):
    here = people["here"].id_number
    return [
        ["330106:10", here, "2024-06-03", people["canteen"].code, "1", "12.50"],
        ["330106:10", here, "2024-06-04", "翠苑助餐点", "1", ""],
        ["330106:17", here, "2024-06-01", "浙江老年报", "", ""],
    ]


def test_good_rows_are_recorded_and_a_resend_changes_nothing(people):
    content = csv_bytes(good_rows(people))
    first = import_deliveries(content, "june.csv")
    assert first.summary == "created 3, updated 0, rejected 0"
    canteen = ServiceDelivery.objects.get(delivered_on=D(2024, 6, 3))
    assert canteen.provider_facility == people["canteen"]
    assert canteen.amount == 12.5
    again = import_deliveries(content, "june.csv")
    assert again.summary == "created 0, updated 0, rejected 0"
    assert ServiceDelivery.objects.count() == 3
    assert ServiceDelivery.history.count() == 3


def test_a_corrected_row_updates_its_delivery(people):
    import_deliveries(csv_bytes(good_rows(people)), "june.csv")
    rows = good_rows(people)
    rows[0][5] = "15.00"
    result = import_deliveries(csv_bytes(rows), "june.csv")
    assert result.summary == "created 0, updated 1, rejected 0"
    assert ServiceDelivery.objects.get(delivered_on=D(2024, 6, 3)).amount == 15


def test_every_bad_row_is_reported_naming_row_and_field(people):
    here = people["here"].id_number
    rows = [
        *good_rows(people),
        ["330106:99", here, "2024-06-03", "某食堂", "", ""],  # no such item
        ["330106:10", "330106194001010000", "2024-06-03", "某食堂", "", ""],  # bad ID number
        ["330106:10", with_check_character("33010619400101009"), "2024-06-03", "x", "", ""],
        ["330106:10", here, "2024-13-01", "某食堂", "", ""],  # no such date
        ["330106:10", here, "2024-06-05", "", "", ""],  # no provider
        ["330106:10", here, "2024-06-05", "某食堂", "-1", ""],  # negative quantity
        ["330106:10", here, "2024-06-05", "某食堂", "", "abc"],  # not a number
        ["330106:15", here, "2024-06-05", "某食堂", "", ""],  # a cash item: not delivered here
        ["330106:10", here, "2023-06-05", "某食堂", "", ""],  # before Xihu's list
    ]
    result = import_deliveries(csv_bytes(rows), "june.csv")
    assert result.summary == "created 3, updated 0, rejected 9"
    assert [(e.row, e.field) for e in result.errors] == [
        (5, "item"),
        (6, "id_number"),
        (7, "id_number"),
        (8, "date"),
        (9, "provider"),
        (10, "quantity"),
        (11, "amount"),
        (12, "item"),
        (13, "item"),
    ]


def test_a_dry_run_checks_and_writes_nothing(people):
    result = import_deliveries(csv_bytes(good_rows(people)), "june.csv", dry_run=True)
    assert result.summary == "created 3, updated 0, rejected 0"
    assert not ServiceDelivery.objects.exists()


def test_an_xlsx_file_is_read_like_a_csv(people):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    for row in good_rows(people):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert import_deliveries(buffer.getvalue(), "june.xlsx").created == 3


def test_a_street_worker_records_only_the_elders_of_the_street(people):
    worker = User.objects.create_user("cuiyuan-worker")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    there = people["there"].id_number
    rows = [*good_rows(people), ["330106:10", there, "2024-06-03", "北山食堂", "1", ""]]
    result = import_deliveries(csv_bytes(rows), "june.csv", by=worker)
    assert result.summary == "created 3, updated 0, rejected 1"
    assert (result.errors[0].row, result.errors[0].field) == (5, "id_number")


def test_the_command_prints_the_summary_last_and_writes_the_errors(people, tmp_path, capsys):
    path = tmp_path / "june.csv"
    path.write_bytes(csv_bytes([*good_rows(people), ["330106:99", "x", "", "", "", ""]]))
    errors = tmp_path / "errors.csv"
    call_command("import_deliveries", str(path), "--errors", str(errors))
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "created 3, updated 0, rejected 1"
    assert errors.read_text(encoding="utf-8").splitlines()[1].startswith("5,id_number,")


def test_a_providers_system_posts_a_delivery_once(people, client):
    worker = User.objects.create_user("cuiyuan-api")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    client.force_login(worker)
    body = {
        "item": "330106:10",
        "id_number": people["here"].id_number,
        "date": "2024-06-03",
        "provider": people["canteen"].code,
        "quantity": "1",
    }
    first = client.post("/api/servicelist/deliveries/", body, content_type="application/json")
    assert first.status_code == 201, first.content
    assert first.json()["created"] is True
    assert people["here"].id_number not in first.content.decode()  # masked
    again = client.post("/api/servicelist/deliveries/", body, content_type="application/json")
    assert again.status_code == 200 and again.json()["created"] is False
    outside = {**body, "id_number": people["there"].id_number}
    refused = client.post("/api/servicelist/deliveries/", outside, content_type="application/json")
    assert refused.status_code == 400 and "id_number" in refused.json()
    assert ServiceDelivery.objects.count() == 1


def test_a_street_worker_reads_only_the_deliveries_of_the_street(people, client):
    import_deliveries(
        csv_bytes(
            [
                *good_rows(people),
                ["330106:10", people["there"].id_number, "2024-06-03", "北山食堂", "1", ""],
            ]
        ),
        "june.csv",
    )
    worker = User.objects.create_user("cuiyuan-reader")
    RoleAssignment.objects.create(user=worker, role=Role.STREET_WORKER, region=region("330106004"))
    client.force_login(worker)
    body = client.get("/api/servicelist/deliveries/").json()
    assert body["count"] == 3
    assert {row["elder_name"] for row in body["results"]} == {"翠苑老人"}
    assert all("*" in row["id_number"] for row in body["results"])  # masked in lists


# --- a delivery only where its item applies -----------------------------------------------------


@pytest.fixture
def ningbo_elder(people):
    haishu = region("330203")
    return ElderFactory(
        id_number=with_check_character("33020319400101003"),
        name="宁波老人",
        hukou_region=haishu,
        residence_region=haishu,
    )


def test_a_xihu_item_is_refused_for_a_ningbo_elder_naming_the_item(ningbo_elder):
    from django.core.exceptions import ValidationError

    from servicelist.services import Provider, find_item, record_delivery

    with pytest.raises(ValidationError) as refused:
        record_delivery(
            item=find_item("330106:10", D(2024, 6, 3)),
            elder=ningbo_elder,
            delivered_on=D(2024, 6, 3),
            provider=Provider(None, "西湖助餐点"),
        )
    message = refused.value.message_dict["item"][0]
    assert "330106:10" in message and "宁波老人" in message and "海曙区" in message
    assert not ServiceDelivery.objects.exists()


def test_an_item_applies_where_the_elder_lives_or_is_registered(people, ningbo_elder):
    """A Xihu-registered elder living in Ningbo still gets Xihu's item, and the province's
    items apply everywhere below it."""
    from servicelist.services import Provider, find_item, record_delivery

    moved = people["here"]
    moved.residence_region = region("330203")
    moved.save()
    on = D(2024, 6, 3)
    paper = record_delivery(
        item=find_item("330106:17", on), elder=moved, delivered_on=on, provider=Provider(None, "x")
    )
    care = record_delivery(
        item=find_item("330000:4", on),
        elder=ningbo_elder,
        delivered_on=on,
        provider=Provider(None, "x"),
    )
    assert paper.created and care.created


def test_the_import_names_the_row_and_field_of_an_item_from_another_region(people, ningbo_elder):
    rows = [
        *good_rows(people),
        ["330106:17", ningbo_elder.id_number, "2024-06-03", "浙江老年报", "", ""],
    ]
    result = import_deliveries(csv_bytes(rows), "june.csv")
    assert result.summary == "created 3, updated 0, rejected 1"
    error = result.errors[0]
    assert (error.row, error.field) == (5, "item")
    assert "不适用于宁波老人" in error.message


def test_the_api_refuses_an_item_from_another_region_naming_the_field(ningbo_elder, client):
    client.force_login(User.objects.create_superuser("root-api", password="x"))
    body = {
        "item": "330106:17",
        "id_number": ningbo_elder.id_number,
        "date": "2024-06-03",
        "provider": "浙江老年报",
    }
    refused = client.post("/api/servicelist/deliveries/", body, content_type="application/json")
    assert refused.status_code == 400
    assert "330106:17" in refused.json()["item"][0]


def test_a_delivery_dated_in_the_future_is_refused(people):
    from accounts.dates import today

    later = today() + datetime.timedelta(days=1)
    rows = [["330106:17", people["here"].id_number, later.isoformat(), "浙江老年报", "", ""]]
    result = import_deliveries(csv_bytes(rows), "june.csv")
    assert [(e.row, e.field) for e in result.errors] == [(2, "date")]
    assert "晚于今天" in result.errors[0].message
