import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from regions.models import PolicyValue, Region


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_tree_has_every_city_of_zhejiang_and_keeps_abolished_districts(zhejiang):
    cities = Region.objects.filter(level="city", parent=zhejiang, is_active=True)
    assert cities.count() == 11
    xiacheng = Region.objects.get(code="330103")
    assert (xiacheng.name, xiacheng.is_active, xiacheng.valid_to_year) == ("下城区", False, 2021)
    assert Region.objects.get(code="330113").name == "临平区"
    xihu_streets = Region.objects.filter(parent__code="330106", level="street")
    assert xihu_streets.count() == 12
    community = Region.objects.get(code="330106004001")
    assert community.path == "330000/330100/330106/330106004/330106004001/"


def test_loading_regions_twice_changes_nothing(zhejiang):
    count = Region.objects.count()
    assert run("load_regions") == "regions: created 0, updated 0\n"
    assert Region.objects.count() == count


def test_loading_the_rulebook_twice_changes_nothing(zhejiang):
    PolicyValue.objects.all().delete()
    first = run("load_policies")
    rows = PolicyValue.objects.count()
    assert rows > 60 and first.startswith(f"policy values: created {rows}")
    assert run("load_policies") == (
        f"policy values: created 0, unchanged {rows}, differing 0 (the database's values kept)\n"
    )
    assert PolicyValue.objects.count() == rows


def test_a_bad_rulebook_entry_is_refused_whole(zhejiang, tmp_path):
    PolicyValue.objects.all().delete()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[value]]\nregion = "330000"\nkey = "high_age_allowance_80_89"\nvalue = "60"\n'
        'from = "2023-01-01"\ncitation = "x"\n\n'
        '[[value]]\nregion = "999999"\nkey = "high_age_allowance_80_89"\nvalue = "60"\n'
        'from = "2023-01-01"\ncitation = "y"\n'
    )
    with pytest.raises(CommandError, match="entry 2 .region.: no region 999999"):
        call_command("load_policies", "--file", str(bad))
    assert not PolicyValue.objects.exists()


def test_policy_gaps_lists_what_is_not_set_and_who_needs_it(rulebook):
    out = run("policy_gaps")
    assert "longevity_subsidy_100_plus" in out and "subsidies: monthly allowance run" in out
    assert "e_allowance_high_age_universal" in out and "西政办〔2023〕46号 清单16" in out
    assert "high_age_allowance_80_89" not in out
    gaps = PolicyValue.objects.filter(value__isnull=True, frequency="").count()
    assert out.strip().endswith(f"{gaps} value(s) not set")


def test_policy_gaps_speaks_english_when_asked_and_keeps_its_summary_line(rulebook):
    with translation.override("en"):
        out = run("policy_gaps")
    line = next(x for x in out.splitlines() if "longevity_subsidy_100_plus" in x)
    assert "(Longevity health subsidy (aged 100 and over))" in line and "needed by: " in line
    gaps = PolicyValue.objects.filter(value__isnull=True, frequency="").count()
    assert out.strip().endswith(f"{gaps} value(s) not set")
