"""Pagination of the registry's lists at province scale (a million elders and more)."""

from __future__ import annotations

import json

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class LargeTablePaginator(Paginator):
    """A paginator whose unfiltered lists are not counted row by row on PostgreSQL.

    ``COUNT(*)`` reads the whole table: at a million elders it costs more than the page
    itself. When the list is unfiltered (``estimate=True``: no search and no filter chosen),
    PostgreSQL's own figure is used instead: the table's row count from the planner's
    statistics (``pg_class.reltuples``, kept by autovacuum and ANALYZE) when the queryset has
    no condition at all, otherwise the planner's estimate of the rows the queryset returns (a
    user's scope). An estimate under ``exact_below`` is replaced by an exact count, which is
    cheap at that size; so are filtered lists and every list on other databases (SQLite).
    ``estimated`` says whether ``count`` is an estimate; page numbers past an estimated end
    give an empty page rather than an error, up to ``max_offset`` rows in: a page further on
    is invalid (the admin says so) instead of an OFFSET the database cannot hold
    (``?p=9223372036854775809``).
    """

    exact_below = 10_000
    max_offset = 100_000_000

    def __init__(self, *args, estimate: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.estimate = estimate
        self.estimated = False

    @cached_property
    def count(self) -> int:
        estimate = self._estimated_count() if self.estimate else None
        if estimate is None or estimate < self.exact_below:
            return super().count
        self.estimated = True
        return estimate

    def page(self, number):
        """A later page reads its rows' keys first (an index-only scan past the skipped rows)
        and then only those rows with their related ones: the joins of ``select_related`` are
        not made for the rows an OFFSET throws away."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count and not self.estimated:
            top = self.count
        rows = self.object_list[bottom:top]
        if bottom and isinstance(self.object_list, QuerySet):
            keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
            rows = self.object_list.filter(pk__in=keys)
        return self._get_page(rows, number, self)

    def validate_number(self, number):
        if self.count and self.estimated:
            # The estimate may be short of the real end: any page from 1 on is valid.
            try:
                number = int(number)
            except (TypeError, ValueError):
                return super().validate_number(number)
            if number < 1:
                return super().validate_number(number)
            if (number - 1) * self.per_page > self.max_offset:
                raise EmptyPage(_("That page contains no results"))
            return number
        return super().validate_number(number)

    def _estimated_count(self) -> int | None:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or query.distinct or query.combinator:
            return None
        with connection.cursor() as cursor:
            if not query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [connection.ops.quote_name(queryset.model._meta.db_table)],
                )
                row = cursor.fetchone()
                # -1: never analysed (a new table); the exact count is cheap then.
                return row[0] if row and row[0] >= 0 else None
            try:
                sql, params = queryset.order_by().values("pk").query.sql_with_params()
            except EmptyResultSet:  # a scope that covers nothing: counted without a query
                return None
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])


# Query parameters of a changelist that choose no rows (page, ordering, popups).
UNFILTERED_PARAMS = frozenset({"p", "o", "e", "_popup", "_to_field"})


class LargeTableAdminMixin:
    """A ModelAdmin over a table of a province's rows (elders, payment lines): its pages are
    not preceded by a ``COUNT(*)`` of the whole table when nothing is chosen (the count is
    estimated, ``LargeTablePaginator``), and a filtered list is not followed by one (the "of
    N in total" figure)."""

    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        unfiltered = set(request.GET) <= UNFILTERED_PARAMS
        return self.paginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=unfiltered
        )
