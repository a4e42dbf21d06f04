"""The arguments the service list's reports share: an area, a period (a month or a year) and,
optionally, the user the report is run as (then only an area in their scope)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from regions.models import Region
from servicelist.coverage import PeriodError, parse_period


def add_area_arguments(parser) -> None:
    parser.add_argument("--region", required=True, help=gettext_lazy("区划代码（县级、街道等）"))
    parser.add_argument("--period", required=True, help=gettext_lazy("YYYY-MM（月）或 YYYY（年）"))
    parser.add_argument("--output", required=True, help=gettext_lazy("写入的文件"))
    parser.add_argument("--user", help=gettext_lazy("以该用户身份运行：只能选择其权限范围内的区划"))


def read_area_arguments(region: str, period: str, username: str | None):
    """(area, first day, last day, user or None), or CommandError naming the argument."""
    area = Region.objects.filter(code=region).first()
    if area is None:
        raise CommandError(_("--region：没有代码为 %(code)s 的区划") % {"code": region})
    try:
        start, end = parse_period(period)
    except PeriodError as error:
        raise CommandError(_("--period：%(error)s") % {"error": error}) from None
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("--user：没有用户 %(username)s") % {"username": username})
    return area, start, end, user
