import datetime
import io

from residents.demo import load_demo
from residents.id_numbers import parse_id_number
from residents.models import AbilityAssessment, Elder, ElderCategory
from residents.selectors import age_on


def test_demo_is_a_believable_district_and_loads_once(rulebook):
    out = io.StringIO()
    load_demo(stdout=out)
    assert "3000 elders" in out.getvalue()
    counts = (
        Elder.objects.count(),
        ElderCategory.objects.count(),
        AbilityAssessment.objects.count(),
    )
    load_demo(stdout=io.StringIO())
    assert (
        Elder.objects.count(),
        ElderCategory.objects.count(),
        AbilityAssessment.objects.count(),
    ) == counts

    today = datetime.date.today()
    elders = list(Elder.objects.values_list("id_number", "sex", "birth_date"))
    ages = [age_on(b, today) for _, _, b in elders]
    assert min(ages) >= 60 and max(ages) <= 106
    assert 0.10 < sum(a >= 80 for a in ages) / len(ages) < 0.15
    assert 1 <= sum(a >= 100 for a in ages) <= 10
    for number, sex, birth in elders:
        facts = parse_id_number(number)
        assert (facts.sex, facts.birth_date) == (sex, birth)
    xihu = Elder.objects.filter(hukou_region__path__startswith="330000/330100/330106/").count()
    assert xihu / len(elders) > 0.8
    living_alone = ElderCategory.objects.filter(category="living_alone").count()
    assert 0.05 < living_alone / len(elders) < 0.11
