import io

from residents.demo import load_demo as load_residents
from subsidies.demo import load_demo
from subsidies.models import AllowanceRun, PaymentLine


def test_demo_has_one_done_run_for_xihu_last_month_and_a_second_load_adds_nothing(rulebook):
    load_residents(stdout=io.StringIO())
    out = io.StringIO()
    load_demo(stdout=out)
    lines = PaymentLine.objects.count()
    load_demo(stdout=io.StringIO())
    assert AllowanceRun.objects.filter(region__code="330106", status="done").count() == 1
    assert PaymentLine.objects.count() == lines > 0
    assert "allowance run" in out.getvalue()
