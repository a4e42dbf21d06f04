"""The arguments the service list's reports share: an area, a period (a month or a year) and,
optionally, the user the report is run as (then only an area in their scope)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from regions.models import Region
from servicelist.coverage import PeriodError, parse_period


def add_area_arguments(parser) -> None:
    parser.add_argument("--region", required=True, help="region code (county, street, …)")
    parser.add_argument("--period", required=True, help="YYYY-MM or YYYY")
    parser.add_argument("--output", required=True, help="file to write")
    parser.add_argument("--user", help="run as this user: only a region in their scope")


def read_area_arguments(region: str, period: str, username: str | None):
    """(area, first day, last day, user or None), or CommandError naming the argument."""
    area = Region.objects.filter(code=region).first()
    if area is None:
        raise CommandError(f"--region: no region with code {region}")
    try:
        start, end = parse_period(period)
    except PeriodError as error:
        raise CommandError(f"--period: {error}") from None
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: no user {username}")
    return area, start, end, user
