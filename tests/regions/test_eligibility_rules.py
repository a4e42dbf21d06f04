"""Rules of who a policy is for (EligibilityRule): loaded from regions/data/eligibility.toml
once, the database the master after that, inherited code by code down the tree."""

import datetime
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from regions.choices import RuleSubject
from regions.eligibility import RULES_FILE, parse_file
from regions.models import EligibilityRule, Region
from regions.selectors import RuleBook, rules_in_force
from regions.services import add_eligibility_rule

D = datetime.date
VISITS = RuleSubject.VISIT_LIST
PRECEDENCE = RuleSubject.WAITING_LIST_PRECEDENCE

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def region(code):
    return Region.objects.get(code=code)


def in_force(subject, code, on):
    return {(r.code, r.region.code) for r in rules_in_force(subject, region(code), on)}


def with_rules(tmp_path, extra: str):
    path = tmp_path / "eligibility.toml"
    path.write_text(RULES_FILE.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


@pytest.fixture
def xihu_monthly(zhejiang):
    return EligibilityRule.objects.get(
        subject=VISITS, region__code="330106", code="special_difficulty"
    )


# --- loading: insert-only, differences listed, adopting deliberate -------------------------


def test_the_shipped_file_is_loaded_once_and_a_second_load_changes_nothing(zhejiang):
    shipped = len(parse_file())
    assert EligibilityRule.objects.count() == shipped
    out = run("load_eligibility")
    assert f"created 0, unchanged {shipped}, differing 0" in out


def test_loading_again_never_overwrites_a_change_made_in_the_database(xihu_monthly):
    editor = User.objects.create_user("xihu-bureau")
    xihu_monthly.condition = {"category": ["living_alone"]}
    xihu_monthly._history_user = editor
    xihu_monthly._change_reason = "试点"
    xihu_monthly.save()
    out = run("load_eligibility")
    xihu_monthly.refresh_from_db()
    assert xihu_monthly.condition == {"category": ["living_alone"]}
    assert "differing 1" in out
    line = next(x for x in out.splitlines() if x.startswith("visit_list:special_difficulty"))
    assert "330106" in line and "xihu-bureau" in line and "kept the database's rule" in line
    assert '"cognitive_impairment"' in line.split("database:")[0]  # the file's side


def test_adopting_the_file_is_deliberate_and_recorded(xihu_monthly):
    shipped = xihu_monthly.condition
    xihu_monthly.condition = {"category": ["living_alone"]}
    xihu_monthly.save()
    out = run("load_eligibility", "--adopt", "visit_list:special_difficulty", "--region", "330106")
    assert "adopted from the file: 1 row(s)" in out
    xihu_monthly.refresh_from_db()
    assert xihu_monthly.condition == shipped
    assert "--adopt" in xihu_monthly.history.first().history_change_reason
    entry = AuditEntry.objects.get(object_id=str(xihu_monthly.pk), reason__contains="--adopt")
    assert (entry.action, entry.user, entry.command) == (
        AuditAction.POLICY_CHANGE,
        None,
        "load_eligibility",
    )
    assert entry.details["subject"] == "visit_list" and entry.details["region"] == "西湖区"
    with pytest.raises(CommandError, match="SUBJECT:CODE"):
        run("load_eligibility", "--adopt", "special_difficulty", "--region", "330106")


def test_a_new_version_in_the_file_is_one_block_and_ends_the_one_before(xihu_monthly, tmp_path):
    path = with_rules(
        tmp_path,
        """
[[rule]]
subject = "visit_list"
code = "special_difficulty"
label = "特殊困难老年人（月访）"
region = "330106"
from = "2026-01-01"
params = { frequency_key = "visit_frequency_special_difficulty" }
condition = { category = ["living_alone"] }
citation = "a later Xihu document"
""",
    )
    out = run("load_eligibility", "--file", str(path))
    assert "created 1" in out and "differing 0" in out
    xihu_monthly.refresh_from_db()
    assert xihu_monthly.effective_to == D(2025, 12, 31)
    assert in_force(VISITS, "330106004001", D(2025, 12, 31)) == {
        ("childless_alone", "330106"),
        ("special_difficulty", "330106"),
    }
    monthly = {r.code: r for r in rules_in_force(VISITS, region("330106"), D(2026, 1, 1))}
    assert monthly["special_difficulty"].effective_from == D(2026, 1, 1)
    assert monthly["special_difficulty"].condition == {"category": ["living_alone"]}
    assert "created 0" in run("load_eligibility", "--file", str(path))


def test_a_file_version_never_cuts_short_a_version_set_in_the_database(xihu_monthly, tmp_path):
    xihu_monthly.condition = {"category": ["living_alone"]}  # the bureau's own rule
    xihu_monthly.save()
    path = with_rules(
        tmp_path,
        """
[[rule]]
subject = "visit_list"
code = "special_difficulty"
label = "x"
region = "330106"
from = "2026-01-01"
params = { frequency_key = "visit_frequency_special_difficulty" }
condition = { category = ["empty_nest"] }
citation = "x"
""",
    )
    out = run("load_eligibility", "--file", str(path))
    assert "created 0" in out and "not inserted" in out
    xihu_monthly.refresh_from_db()
    assert xihu_monthly.effective_to is None


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('condition = { any = [{ category = ["poor"] }] }', "condition：条件.any[0].category[0]"),
        ("condition = { all = [] }\nrank = 1\nflavour = 1", "flavour：未知的字段"),
        (
            'condition = { all = [] }\nparams = { frequency_key = "high_age_allowance_80_89" }',
            "params",
        ),
    ],
)
def test_a_bad_entry_refuses_the_whole_file_naming_the_entry_and_field(
    zhejiang, tmp_path, entry, says
):
    path = with_rules(
        tmp_path,
        f"""
[[rule]]
subject = "visit_list"
code = "broken"
label = "x"
region = "330106"
from = "2026-01-01"
citation = "x"
{entry}
""",
    )
    before = EligibilityRule.objects.count()
    with pytest.raises(CommandError) as refused:
        run("load_eligibility", "--file", str(path))
    message = str(refused.value)
    assert f"第 {len(parse_file()) + 1} 条" in message and "visit_list/broken/330106" in message
    assert says in message, message
    assert EligibilityRule.objects.count() == before


def test_a_rule_names_a_known_subject_code_and_region(zhejiang):
    base = {
        "subject": RuleSubject.CARE_CLASS,
        "code": "fully_disabled",
        "label": "x",
        "region": region("330106"),
        "effective_from": D(2026, 1, 1),
        "condition": {"ability_level": ["total"]},
        "rank": 1,
        "citation": "x",
    }
    with pytest.raises(ValidationError) as refused:
        add_eligibility_rule(reason="x", **{**base, "code": "half_disabled"})
    assert "code" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        add_eligibility_rule(reason="x", **{**base, "condition": {"age_at_least": 80}})
    assert "此类规则不能使用" in refused.value.message_dict["condition"][0]
    with pytest.raises(ValidationError) as refused:
        add_eligibility_rule(reason="x", **{**base, "rank": None})
    assert "rank" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        add_eligibility_rule(
            reason="x",
            **{
                **base,
                "subject": PRECEDENCE,
                "code": "somewhere",
                "condition": {"registered_in": ["339999"]},
            },
        )
    assert "339999" in refused.value.message_dict["condition"][0]
    with pytest.raises(ValidationError) as refused:
        add_eligibility_rule(
            reason="x", **{**base, "region": region("330000"), "effective_from": D(2023, 1, 1)}
        )
    assert "重叠" in refused.value.message_dict["effective_from"][0]


# --- inheritance: code by code, the nearest region upwards ---------------------------------


def test_a_lower_level_replaces_the_rule_of_the_same_code_and_adds_new_codes(zhejiang):
    community = "330106004001"
    assert in_force(VISITS, community, D(2024, 1, 29)) == {("special_difficulty", "330000")}
    assert in_force(VISITS, community, D(2024, 1, 30)) == {
        ("special_difficulty", "330106"),
        ("childless_alone", "330106"),
    }
    # Jinhua and Anji replace the province's list from their documents' dates.
    assert in_force(VISITS, "330702", D(2023, 4, 30)) == {("special_difficulty", "330000")}
    assert in_force(VISITS, "330702", D(2023, 5, 1)) == {("special_difficulty", "330700")}


def test_precedence_adds_each_jurisdictions_own_rules_in_rank_order(zhejiang):
    on = D(2024, 6, 1)
    province = [
        "destitute",
        "family_planning_special",
        "economically_difficult_disabled",
        "veterans",
    ]
    anji = [r.code for r in rules_in_force(PRECEDENCE, region("330523"), on)]
    xihu = [r.code for r in rules_in_force(PRECEDENCE, region("330106"), on)]
    jinhua = [r.code for r in rules_in_force(PRECEDENCE, region("330702"), on)]
    assert anji == [*province, "anji_happy_care", "general"]
    assert xihu == [*province, "bravery_disabled", "general"]
    assert jinhua == [*province, "general"]


def test_a_street_rule_replaces_its_districts_for_that_street_only(zhejiang):
    add_eligibility_rule(
        reason="街道试点",
        subject=VISITS,
        code="special_difficulty",
        label="翠苑街道试点",
        region=region("330106004"),
        effective_from=D(2025, 1, 1),
        condition={"category": ["living_alone"]},
        params={"frequency_key": "visit_frequency_special_difficulty"},
        citation="试点",
    )
    assert ("special_difficulty", "330106004") in in_force(VISITS, "330106004001", D(2025, 1, 1))
    assert ("special_difficulty", "330106") in in_force(VISITS, "330106001001", D(2025, 1, 1))


def test_one_query_reads_the_rules_of_many_regions_and_days(zhejiang, django_assert_num_queries):
    paths = {c: region(c).path for c in ("330106004001", "330523", "330702", "330203")}
    with django_assert_num_queries(1):
        book = RuleBook(VISITS, D(2023, 1, 1), D(2024, 12, 31))
    with django_assert_num_queries(0):
        for path in paths.values():
            for day in (D(2023, 6, 1), D(2024, 6, 1)):
                assert book.in_force(path, day)
        assert [r.code for r in book.in_force(paths["330523"], D(2024, 6, 1))] == [
            "special_difficulty"
        ]
        assert D(2024, 1, 30) in book.change_days(paths["330106004001"])


# --- the admin: read-only, the condition in words ------------------------------------------


def test_the_admin_shows_rules_read_only_with_their_condition_in_words(client, xihu_monthly):
    user = User.objects.create_user(username="bureau", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="regions"))
    RoleAssignment.objects.create(user=user, role=Role.BUREAU, region=region("330106"))
    client.force_login(user)
    listing = client.get(reverse("admin:regions_eligibilityrule_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "类别为独居、空巢、留守、重残、失智、计划生育特殊家庭、失独之一" in page
    detail = client.get(reverse("admin:regions_eligibilityrule_change", args=[xihu_monthly.pk]))
    assert detail.status_code == 200
    assert "记为 disabled" in detail.content.decode()
    assert "_save" not in detail.content.decode()
    assert client.get(reverse("admin:regions_eligibilityrule_add")).status_code == 403


def test_only_a_bureau_covering_the_region_adds_or_ends_its_rules(zhejiang):
    from regions.services import PolicyChangeRefused, end_eligibility_rule

    def user(name, role, code):
        person = User.objects.create_user(name, password="x")
        RoleAssignment.objects.create(user=person, role=role, region=region(code))
        return person

    rule = {
        "subject": VISITS,
        "code": "special_difficulty",
        "label": "翠苑街道试点",
        "region": region("330106004"),
        "effective_from": D(2025, 1, 1),
        "condition": {"category": ["living_alone"]},
        "params": {"frequency_key": "visit_frequency_special_difficulty"},
        "citation": "试点",
    }
    for outsider in (
        user("ningbo-bureau", Role.BUREAU, "330200"),
        user("xihu-street", Role.STREET_WORKER, "330106004"),
        user("xihu-auditor", Role.AUDITOR, "330106"),
    ):
        with pytest.raises(PolicyChangeRefused):
            add_eligibility_rule(reason="x", by=outsider, **rule)
    assert not EligibilityRule.objects.filter(region=region("330106004")).exists()
    added = add_eligibility_rule(reason="试点", by=user("xihu", Role.BUREAU, "330106"), **rule)
    with pytest.raises(PolicyChangeRefused):
        end_eligibility_rule(
            row=added,
            effective_to=D(2025, 6, 30),
            reason="x",
            by=User.objects.get(username="ningbo-bureau"),
        )
    added.refresh_from_db()
    assert added.effective_to is None
