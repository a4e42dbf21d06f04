"""The API's pagination: ``?limit=`` and ``?offset=``, with a ceiling on the page size.

Without a ceiling, ``?limit=100000`` made one response of 23 MB and took a worker from 76 to 550
MB, and ``?limit=9223372036854775809`` reached the database as a LIMIT it cannot hold (a 500).
A limit above ``MAX_LIMIT`` is served as ``MAX_LIMIT`` rows (the ``next`` link then leads on),
as DRF does with ``max_limit``; a limit that is not a positive whole number falls back to the
default. An offset past the end is an empty page whatever its size: it is compared with the
count and never reaches the database.
"""

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.settings import api_settings

MAX_LIMIT = 500


class ProjectPagination(LimitOffsetPagination):
    """The default limit is ``PAGE_SIZE`` of the REST_FRAMEWORK settings."""

    max_limit = MAX_LIMIT
    limit_query_description = (
        f"每页条数：默认 {api_settings.PAGE_SIZE}，最多 {MAX_LIMIT}（更大的值按 {MAX_LIMIT} 计）。"
    )
    offset_query_description = "从第几条开始（0 起）；超过总数时返回空页。"
