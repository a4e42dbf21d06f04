import io

from django.db import connection
from django.test.utils import CaptureQueriesContext

from residents.demo import load_demo as load_residents
from visits.demo import load_demo
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker
from visits.selectors import todays_list


def test_demo_assigns_workers_and_logs_visits_once(rulebook, django_user_model):
    load_residents(stdout=io.StringIO())
    out = io.StringIO()
    with CaptureQueriesContext(connection) as demo_queries:
        load_demo(stdout=out)
    assert "visits demo:" in out.getvalue()
    counts = (
        VisitWorker.objects.count(),
        Visit.objects.count(),
        FollowUpTask.objects.count(),
        HealthCheck.objects.count(),
    )
    load_demo(stdout=io.StringIO())
    assert counts == (
        VisitWorker.objects.count(),
        Visit.objects.count(),
        FollowUpTask.objects.count(),
        HealthCheck.objects.count(),
    )
    street = django_user_model.objects.get(username="street")
    assert VisitWorker.objects.get(user=street).area.code == "330106004"
    assert Visit.objects.filter(worker=street).exists()
    todays = todays_list(street)
    assert todays and any(not row.due for row in todays)
    # Set-based, not a statement per elder: about 200 statements for the demonstration's
    # 3,000 elders (a per-elder loop would issue thousands). A count, not a time: the suite
    # never times anything.
    assert len(demo_queries.captured_queries) < 600, out.getvalue()
