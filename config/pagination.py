"""The API's pagination: ``?limit=`` and ``?offset=``, with a ceiling on the page size.

Without a ceiling, ``?limit=100000`` made one response of 23 MB and took a worker from 76 to 550
MB, and ``?limit=9223372036854775809`` reached the database as a LIMIT it cannot hold (a 500).
A limit above ``MAX_LIMIT`` is served as ``MAX_LIMIT`` rows (the ``next`` link then leads on),
as DRF does with ``max_limit``; a limit that is not a positive whole number falls back to the
default. An offset past the end is an empty page whatever its size: it is compared with the
count and never reaches the database.
"""

from django.utils.translation import gettext_lazy
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.settings import api_settings

from config.i18n import interpolate_lazy

MAX_LIMIT = 500


class ProjectPagination(LimitOffsetPagination):
    """The default limit is ``PAGE_SIZE`` of the REST_FRAMEWORK settings."""

    max_limit = MAX_LIMIT
    limit_query_description = interpolate_lazy(
        gettext_lazy("每页条数：默认 %(default)s，最多 %(max)s（更大的值按 %(max)s 计）。"),
        {"default": api_settings.PAGE_SIZE, "max": MAX_LIMIT},
    )
    offset_query_description = gettext_lazy("从第几条开始（0 起）；超过总数时返回空页。")
