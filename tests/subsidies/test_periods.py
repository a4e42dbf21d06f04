"""A period is a month from 2000-01 to December of next year, for the API, the commands and the
service alike: anything else (year 0, 5085, a month 13) is a 400 or an error naming ``period``,
never a 500 and never a run."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from regions.models import Region
from subsidies.models import AllowanceRun
from subsidies.periods import check_period, last_period, parse_period
from subsidies.run.planning import request_allowance_run

TODAY = datetime.date(2025, 3, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2000-01", datetime.date(2000, 1, 1)), ("2026-12", datetime.date(2026, 12, 1))],
)
def test_the_range_runs_from_2000_01_to_december_of_next_year(text, expected):
    assert parse_period(text, today=TODAY) == expected
    assert last_period(TODAY) == datetime.date(2026, 12, 1)


@pytest.mark.parametrize("text", ["0000-01", "0028-05", "1999-12", "2027-01", "5085-09", "9999-12"])
def test_a_month_outside_the_range_is_refused_naming_period_and_the_range(text):
    with pytest.raises(ValidationError) as error:
        parse_period(text, today=TODAY)
    (message,) = error.value.message_dict["period"]
    assert "2000-01 至 2026-12" in message


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-5", "202405", "", "２０２４-05", "x"])
def test_a_month_not_written_yyyy_mm_is_refused_saying_so(text):
    with pytest.raises(ValidationError, match="YYYY-MM"):
        parse_period(text, today=TODAY)


def test_the_service_refuses_a_date_outside_the_range_too(rulebook):
    xihu = Region.objects.get(code="330106")
    for period in (datetime.date(5085, 9, 1), datetime.date(1999, 12, 1)):
        with pytest.raises(ValidationError) as error:
            request_allowance_run(region=xihu, period=period, sync=True)
        assert "period" in error.value.message_dict
    assert not AllowanceRun.objects.exists()
    assert check_period(datetime.date(2024, 5, 17)) == datetime.date(2024, 5, 1)


@pytest.fixture
def api(rulebook, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("root", "", "x"))
    return client


@pytest.mark.parametrize("period", ["0000-01", "5085-09", "1999-12", "2024-13", 202405, None])
def test_the_api_answers_a_bad_period_with_a_400_naming_period(api, period):
    response = api.post(
        "/api/subsidies/runs/", {"region": "330106", "period": period}, format="json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"period"}
    assert not AllowanceRun.objects.exists()


def test_the_api_takes_and_returns_yyyy_mm(api, django_capture_on_commit_callbacks):
    month = f"{timezone.localdate():%Y-%m}"
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(
            "/api/subsidies/runs/", {"region": "330106", "period": month}, format="json"
        )
    assert response.status_code == 202 and response.json()["period"] == month


@pytest.mark.parametrize("command", ["run_allowances", "export_batch"])
def test_the_commands_refuse_a_period_outside_the_range_naming_the_option(rulebook, command):
    extra = ["--format", "csv", "--output", "-"] if command == "export_batch" else ["--sync"]
    with pytest.raises(CommandError, match="--period：.*超出系统支持的范围"):
        call_command(
            command, "--region", "330106", "--period", "0000-01", *extra, stdout=io.StringIO()
        )
