"""The catalogue: every item of the five lists as data with its citation, inherited down the
tree, never below the list above (docs/policy.md §0, §8–§12)."""

import datetime
import tomllib

import pytest
from django.core.exceptions import ValidationError

from regions.models import Region
from regions.services import set_policy_value
from servicelist.catalogue import ITEMS_FILE, load_items
from servicelist.models import ServiceItem
from servicelist.selectors import items_in_force, region_list
from servicelist.services import add_service_item

D = datetime.date
# Items per list, as the five documents number them (docs/policy.md §8–§12).
LIST_LENGTHS = {"330000": 21, "330106": 36, "330700": 23, "330523": 26, "330200": 26}


def region(code):
    return Region.objects.get(code=code)


def test_every_item_of_the_five_lists_is_loaded_once_with_its_citation(service_items):
    assert service_items.count() == sum(LIST_LENGTHS.values())
    for code, length in LIST_LENGTHS.items():
        numbers = list(
            ServiceItem.objects.filter(region__code=code)
            .order_by("number")
            .values_list("number", flat=True)
        )
        assert numbers == list(range(1, length + 1)), code
    assert not ServiceItem.objects.filter(citation="").exists()
    assert ServiceItem.objects.get(code="330106:23").standard_key == "e_allowance_minimum_living"
    assert ServiceItem.objects.get(code="330000:14").kind == "visit"


def test_a_second_load_changes_nothing_and_keeps_a_bureaus_change(service_items):
    item = ServiceItem.objects.get(code="330106:10")
    item.department = "区民政局"
    item.save()
    again = load_items()
    assert (again.created, again.unchanged) == (0, sum(LIST_LENGTHS.values()) - 1)
    assert [d.key for d in again.differences] == ["330106:10"]
    assert ServiceItem.objects.get(code="330106:10").department == "区民政局"


def test_every_item_in_the_file_names_a_document_of_its_region():
    with open(ITEMS_FILE, "rb") as handle:
        entries = tomllib.load(handle)["item"]
    documents = {
        "330000": "浙政办发〔2022〕71号",
        "330106": "西政办〔2023〕46号",
        "330700": "金政办发〔2023〕18号",
        "330523": "安吉县实施意见",
        "330200": "甬政办发〔2023〕60号",
    }
    for entry in entries:
        assert entry["citation"].startswith(documents[entry["region"]]), entry


def test_a_district_lists_its_own_items_and_inherits_those_it_does_not_restate(service_items):
    listed = {li.item.code: li for li in region_list(region("330106"), D(2024, 6, 1))}
    assert {c for c in listed if c.startswith("330106:")} == {f"330106:{n}" for n in range(1, 37)}
    # The province's high-age allowance is restated by Xihu's item 15, its care-service
    # subsidy (000 清单7) by none of Xihu's items: inherited.
    assert "330000:6" not in listed
    assert listed["330106:15"].raises.code == "330000:6"
    assert listed["330000:7"].inherited
    # A street and a community of Xihu read the same list; Ningbo reads its own.
    street = [i.code for i in items_in_force(region("330106004"), D(2024, 6, 1))]
    assert street == [li.item.code for li in region_list(region("330106"), D(2024, 6, 1))]
    ningbo = {i.code for i in items_in_force(region("330203"), D(2024, 6, 1))}
    assert "330200:21" in ningbo and not any(c.startswith("330106:") for c in ningbo)


def test_before_a_district_list_is_in_force_the_province_list_applies(service_items):
    before = {i.code for i in items_in_force(region("330106"), D(2024, 1, 29))}
    assert before == {f"330000:{n}" for n in range(1, 22)}
    # A period that straddles the day: both lists' versions overlap it; the district's wins.
    month = {i.code for i in items_in_force(region("330106"), D(2024, 1, 1), D(2024, 1, 31))}
    assert "330106:15" in month and "330000:6" not in month


def _raising_item(**overrides):
    fields = {
        "region": region("330702"),
        "number": 1,
        "name": "高龄津贴",
        "name_en": "High-age allowance",
        "target_group": "80周岁以上老年人",
        "content": "测试",
        "kind": "cash",
        "reached_through": "not_tracked",
        "condition": {"age_at_least": 80},
        "standard_key": "caregiver_post_allowance",
        "corresponds_to": "330700:7",
        "effective_from": D(2024, 1, 1),
        "citation": "测试文件 清单1",
    }
    return {**fields, **overrides}


def test_a_district_item_below_the_citys_standard_is_refused_naming_both(service_items):
    """Wucheng (330702) raising Jinhua's high-age allowance (60 a month, 330700:7) with a
    standard of 30 a month is refused, naming both items and both amounts."""
    set_policy_value(
        region=region("330702"),
        key="caregiver_post_allowance",
        value=30,
        effective_from=D(2024, 1, 1),
        citation="测试",
    )
    with pytest.raises(ValidationError) as refused:
        add_service_item(reason="测试", **_raising_item())
    message = refused.value.message_dict["standard_key"][0]
    assert "330702:1" in message and "330700:7" in message
    assert "30" in message and "60" in message
    assert not ServiceItem.objects.filter(code="330702:1").exists()


def test_a_district_item_at_or_above_the_citys_standard_is_taken(service_items):
    set_policy_value(
        region=region("330702"),
        key="caregiver_post_allowance",
        value=60,
        effective_from=D(2024, 1, 1),
        citation="测试",
    )
    add_service_item(reason="测试", **_raising_item())
    listed = {i.code for i in items_in_force(region("330702"), D(2024, 6, 1))}
    assert "330702:1" in listed and "330700:7" not in listed


@pytest.mark.parametrize(
    ("corresponds_to", "says"),
    [("330106:1", "不是本区划上级清单"), ("330700:99", "不在有效期内")],
)
def test_an_item_raises_only_an_item_of_a_list_above(service_items, corresponds_to, says):
    with pytest.raises(ValidationError) as refused:
        add_service_item(
            reason="测试", **_raising_item(corresponds_to=corresponds_to, standard_key="")
        )
    assert says in refused.value.message_dict["corresponds_to"][0]


def test_a_bad_condition_is_refused_on_its_field(service_items):
    with pytest.raises(ValidationError) as refused:
        add_service_item(reason="测试", **_raising_item(condition={"age_at_least": "old"}))
    assert "condition" in refused.value.message_dict


def test_the_api_gives_a_regions_list_with_what_it_inherits(service_items, client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("reader"))
    answer = client.get("/api/servicelist/list/", {"region": "330106", "date": "2024-06-01"})
    assert answer.status_code == 200
    rows = {row["item"]["code"]: row for row in answer.json()}
    assert rows["330106:15"]["raises"] == "330000:6" and not rows["330106:15"]["inherited"]
    assert rows["330000:7"]["inherited"] and rows["330000:7"]["raises"] is None
    assert rows["330106:16"]["item"]["standard"] == "e_allowance_high_age_universal"
    assert rows["330106:31"]["item"]["standard"] == "not set"
    items = client.get("/api/servicelist/items/", {"code": "330106:23"}).json()
    assert items["count"] == 1 and items["results"][0]["kind"] == "cash"


# --- each item's own record; taking the file's version deliberately -----------------------------


def test_ningbo_s_barrier_free_adaptation_keeps_an_adaptation_s_record(service_items):
    """甬政办发〔2023〕60号 清单21 (老年残疾人家庭无障碍改造, under 民发〔2022〕9号 on home
    adaptations for elders in special difficulty) is applied for, assessed and done once, as a
    home adaptation. Anji's 幸福养 (清单12) is a bed in an institution or at home: no one
    record fits both, so its deliveries alone record it."""
    assert ServiceItem.objects.get(code="330200:21").record_kind == "adaptation"
    assert ServiceItem.objects.get(code="330523:12").record_kind == ""


def test_adopting_the_file_s_item_is_deliberate_checked_and_recorded(service_items):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from accounts.models import AuditEntry

    item = ServiceItem.objects.get(code="330200:21")
    item.record_kind = ""  # as a database loaded before the file tagged it
    item.save()

    def run(*args):
        out = StringIO()
        call_command("load_service_items", *args, stdout=out)
        return out.getvalue()

    loaded = run()
    line = next(x for x in loaded.splitlines() if x.startswith("330200:21"))
    assert "--adopt" in line and "differing 1" in loaded
    assert ServiceItem.objects.get(code="330200:21").record_kind == ""
    assert "adopted from the file: 1 version(s) of 330200:21" in run("--adopt", "330200:21")
    item.refresh_from_db()
    assert item.record_kind == "adaptation"
    assert "--adopt" in item.history.first().history_change_reason
    entry = AuditEntry.objects.filter(object_id=str(item.pk), reason__contains="--adopt").get()
    assert entry.command == "load_service_items"
    assert "unchanged 1" in run("--adopt", "330200:21")
    assert "differing 0" in run()
    with pytest.raises(CommandError, match="330200:99"):
        run("--adopt", "330200:99")
