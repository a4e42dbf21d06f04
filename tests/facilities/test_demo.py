from io import StringIO

from facilities.demo import load_demo
from facilities.models import Application, Bed, Caregiver, Facility, Stay
from facilities.selectors import waiting_list
from tests.factories import ElderFactory


def test_demo_loads_once_with_occupied_beds_and_a_waiting_list(rulebook):
    ElderFactory.create_batch(120)
    out = StringIO()
    load_demo(stdout=out)
    counts = (Facility.objects.count(), Bed.objects.count(), Stay.objects.count())
    assert counts[0] == 6 and counts[2] > 0
    assert Caregiver.objects.count() == 48
    public = Facility.objects.get(name="西湖区社会福利中心")
    assert len(waiting_list(public, public.ratings.get().rated_on)) == 12
    assert Application.objects.count() == 12
    load_demo(stdout=out)
    assert (Facility.objects.count(), Bed.objects.count(), Stay.objects.count()) == counts
    assert "already loaded" in out.getvalue()
