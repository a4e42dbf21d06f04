"""The lines a chunk of elders is owed for a month's plan: one statement, on every database.

Who a scheme pays is its condition (``Scheme.condition``, regions/conditions.py), stated once
as data. For a chunk of elders (an id range) and a month's plan, ``chunk_statement`` compiles
the plan into one ``SELECT`` that reads the chunk once:

- ``elders``: the chunk's elders registered in the run's region and alive on the 1st (for an
  arrears month: registered after that month's run), with the index of their nearest rate
  region (a CASE on the registration path, deepest first) — built by the ORM;
- ``plan``: one row per (rate region, scheme) with the amount, its rulebook row, the scheme's
  share of the inputs and the number of its condition;
- the lines: each elder joined to the rows of their rate region, a row kept when its scheme's
  condition holds — a CASE on the row's condition number picks the condition, compiled by the
  ORM (``conditions.to_q`` on the 1st) over the elder's row, so each elder is read once and
  tested only against the schemes of their rate region.

The SQL is the ORM's on both databases; only the JSON of the inputs is spelt per database.
``insert_lines`` writes it as ``INSERT … SELECT … ON CONFLICT DO NOTHING``: the unique
constraint on (scheme, period, elder) makes every rerun add only what is missing. The policy
preview reads the same SELECT without writing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import ExtractYear, NullIf
from django.utils import timezone

from regions import conditions
from residents.models import Elder, ElderCategory
from subsidies.choices import LineKind, LineStatus
from subsidies.models import money
from subsidies.run.plan import PeriodPlan


def alive_on_q(on: datetime.date) -> Q:
    # Alive on the 1st means paid for that month, even when death comes later in the month.
    return Q(death_date__isnull=True) | Q(death_date__gte=on)


def categories_held_on(elders, on: datetime.date) -> dict[int, frozenset[str]]:
    """{elder id: the categories held on ``on``} for ``elders`` (ids or a queryset), one
    query; elders holding none are absent."""
    held: dict[int, set[str]] = {}
    for elder_id, category in (
        ElderCategory.objects.filter(elder__in=elders, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .values_list("elder_id", "category")
    ):
        held.setdefault(elder_id, set()).add(category)
    return {k: frozenset(v) for k, v in held.items()}


def age_on_first(period: datetime.date):
    """Age in completed years on the 1st of ``period`` as a query expression: the years since
    the year of birth, less one if the birthday is later in the year than 1 ``period.month``
    (residents.ages.age_on on the 1st of a month; a 29 February birthday is past on 1 March
    in every year)."""
    not_yet = ~(
        Q(birth_date__month__lt=period.month) | Q(birth_date__month=period.month, birth_date__day=1)
    )
    return ExpressionWrapper(
        Value(period.year) - ExtractYear("birth_date") - Case(When(not_yet, then=1), default=0),
        output_field=IntegerField(),
    )


class CategoryList(Aggregate):
    """The categories of a group as a JSON array in code order."""

    function = "jsonb_agg"
    template = '%(function)s(%(expressions)s ORDER BY %(expressions)s COLLATE "C")'
    output_field = JSONField()

    def as_sqlite(self, compiler, conn, **extra):
        # SQLite 3.40 has no ORDER BY inside an aggregate: the statement sorts the array.
        return self.as_sql(
            compiler,
            conn,
            function="json_group_array",
            template="%(function)s(%(expressions)s)",
            **extra,
        )


def placement_approval_on(day: datetime.date) -> Subquery:
    """The document number of the county's approval of the elder's placement in the stay open
    on ``day`` (approved by then), as an expression over Elder; NULL when there is none. An
    elder has one open stay at most (stay_one_open_per_elder)."""
    approved = (
        conditions.institution_stays()
        .filter(elder_id=OuterRef("pk"), start_date__lte=day, placement_approved_on__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=day))
        .values("placement_approval_number")[:1]
    )
    return Subquery(approved)


@dataclass(frozen=True)
class ChunkStatement:
    """A chunk's lines as SQL: ``head`` (the WITH clause), ``columns`` (the line's columns
    ``LINE_COLUMNS``, named so) and ``body`` (FROM … WHERE), each with its parameters."""

    head: str
    head_params: tuple
    columns: str
    column_params: tuple
    body: str
    body_params: tuple

    def select(self) -> tuple[str, tuple]:
        return (
            f"{self.head} SELECT {self.columns} {self.body}",
            self.head_params + self.column_params + self.body_params,
        )


LINE_COLUMNS = ("scheme_id", "period", "elder_id", "amount", "policy_value_id", "inputs")
# What a line holds beside LINE_COLUMNS when it is written (note and bank fields empty): the
# insurer paid for an insured elder's premium (null for the elder's own lines; the inputs name
# it too) comes from the plan's row, the rest from the statement's parameters.
WRITTEN_COLUMNS = (
    "insurer_id",
    "batch_id",
    "kind",
    "status",
    "note",
    "bank_reference",
    "bank_message",
    "created_at",
)


def _sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


# The id range of a chunk as it stands in a compiled statement: values no elder id takes,
# replaced by the chunk's bounds in the parameters (the rest of the statement is the same for
# every chunk of a plan, so it is compiled once per plan and process).
_LOW, _HIGH = -(2**62) + 1, -(2**62) + 2
_COMPILED: dict[tuple, ChunkStatement | None] = {}


def chunk_statement(
    plan: PeriodPlan, *, region_path: str, id_from: int, id_to: int
) -> ChunkStatement | None:
    """The lines the chunk's elders registered under ``region_path`` are owed for the plan's
    month (None when the plan pays nobody)."""
    key = (json.dumps(plan.to_json(), sort_keys=True), region_path, connection.vendor)
    if key not in _COMPILED:
        if len(_COMPILED) >= 16:
            _COMPILED.clear()
        _COMPILED[key] = _compile(plan, region_path)
    compiled = _COMPILED[key]
    if compiled is None:
        return None
    bounds = {_LOW: id_from, _HIGH: id_to}

    def bound(params: tuple) -> tuple:
        return tuple(bounds.get(p, p) if type(p) is int else p for p in params)

    return replace(
        compiled,
        head_params=bound(compiled.head_params),
        body_params=bound(compiled.body_params),
    )


def _compile(plan: PeriodPlan, region_path: str) -> ChunkStatement | None:
    id_from, id_to = _LOW, _HIGH
    period = plan.period
    if period.day != 1:
        raise ValueError(f"a plan is for a month, given by its 1st, not {period}")
    rows, distinct = [], {}
    for index, node in enumerate(plan.nodes):
        for planned in node.schemes:
            key = json.dumps(planned.condition, sort_keys=True)
            test = distinct.setdefault(key, (len(distinct), planned.condition))[0]
            inputs = json.dumps(planned.line_inputs(node.region), ensure_ascii=False)
            rows.append(
                (
                    index,
                    test,
                    planned.scheme_id,
                    str(planned.amount),
                    planned.policy_value_id,
                    inputs,
                    planned.insurer_id,
                )
            )
    if not rows:
        return None

    chunk = (id_from, id_to)
    elders = Elder.objects.filter(
        id__gte=id_from, id__lte=id_to, hukou_region__path__startswith=region_path
    ).filter(alive_on_q(period))
    if plan.registered_after is not None:
        elders = elders.filter(created_at__gte=plan.registered_after)
    # The nearest rate region: the plan's nodes are deepest first, and a CASE takes the first.
    node = Case(
        *(
            When(hukou_region__path__startswith=node.path, then=Value(index))
            for index, node in enumerate(plan.nodes)
        ),
        output_field=IntegerField(),
    )
    elders_sql, elders_params = _sql(
        elders.order_by()
        # Every column a scheme's condition may read (SCHEME_CONDITION_LEAVES).
        .values("id", "birth_date", "pension_type", "disability_category", "disability_grade")
        .annotate(node=node, region_code=F("hukou_region__code"))
    )
    held_sql, held_params = _sql(
        ElderCategory.objects.filter(elder_id__gte=id_from, elder_id__lte=id_to)
        .filter(start_date__lte=period)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=period))
        .order_by()
        .values("elder_id")
        .annotate(categories=CategoryList("category"))
    )
    # Each condition, and the facts a line keeps, compiled by the ORM over the elder's row;
    # the chunk's rows are named as the elder table, so that the compiled SQL reads them.
    tests, test_params = [], []
    for number, condition in distinct.values():
        sql, params = _on_elder_row(conditions.to_q(condition, on=period, elder_ids=chunk))
        tests.append(f"WHEN {number} THEN ({sql})")
        test_params += params
    age_sql, age_params = _on_elder_row(age_on_first(period))
    level_sql, level_params = (
        _on_elder_row(NullIf(conditions.latest_level(period), Value("")))
        if plan.needs_levels
        else ("NULL", ())
    )

    postgres = connection.vendor == "postgresql"
    cast_json = "CAST(%s AS jsonb)" if postgres else "%s"
    plan_rows = ", ".join(
        f"(%s, %s, %s, CAST(%s AS NUMERIC), %s, {cast_json}, CAST(%s AS BIGINT))" for _ in rows
    )
    plan_params = tuple(value for row in rows for value in row)
    e = connection.ops.quote_name(Elder._meta.db_table)
    facts = (
        ("on", "CAST(%s AS TEXT)", (period.isoformat(),)),
        ("age", age_sql, age_params),
        ("birth_date", f"CAST({e}.birth_date AS TEXT)", ()),
        ("pension_type", f"{e}.pension_type", ()),
        ("ability_level", level_sql, level_params),
        ("hukou_region", f"{e}.region_code", ()),
    )
    if plan.needs_placements:
        # The county's approval the line rests on: its document number (None: not placed).
        facts += (("placement_approval", *_on_elder_row(placement_approval_on(period))),)
    fact_params = tuple(p for *_, params in facts for p in params)
    if postgres:
        pairs = ", ".join(f"'{name}', {value}" for name, value, _ in facts)
        inputs = (
            f"s.inputs || jsonb_build_object({pairs}, "
            "'categories', COALESCE(h.categories, '[]'::jsonb))"
        )
    else:
        pairs = ", ".join(f"'$.{name}', {value}" for name, value, _ in facts)
        held = (
            "(SELECT json_group_array(value) FROM "
            "(SELECT value FROM json_each(h.categories) ORDER BY value))"
        )
        inputs = f"json_set(s.inputs, {pairs}, '$.categories', json(COALESCE({held}, '[]')))"
    return ChunkStatement(
        head=(
            "WITH plan (node, test, scheme_id, amount, policy_value_id, inputs, insurer_id) AS "
            f"(VALUES {plan_rows}), elders AS MATERIALIZED ({elders_sql}), held AS ({held_sql})"
        ),
        head_params=plan_params + elders_params + held_params,
        columns=(
            f"s.scheme_id AS scheme_id, %s AS period, {e}.id AS elder_id, s.amount AS amount, "
            f"s.policy_value_id AS policy_value_id, {inputs} AS inputs"
        ),
        column_params=(period,) + fact_params,
        body=(
            f"FROM elders AS {e} JOIN plan s ON s.node = {e}.node "
            f"LEFT JOIN held h ON h.elder_id = {e}.id "
            f"WHERE CASE s.test {' '.join(tests)} ELSE FALSE END"
        ),
        body_params=tuple(test_params),
    )


def _on_elder_row(expression) -> tuple[str, tuple]:
    """A filter (Q) or an expression over Elder as SQL reading one elder row, no join."""
    query = (
        Elder.objects.filter(expression)
        if isinstance(expression, Q)
        else Elder.objects.annotate(value=expression)
    ).query
    if len(query.alias_map) > 1:
        raise ValueError("a scheme's condition reads the elder's own row only")
    node = query.where if isinstance(expression, Q) else query.annotations["value"]
    sql, params = query.get_compiler(connection=connection).compile(node)
    return sql, tuple(params)


def insert_lines(
    statement: ChunkStatement,
    *,
    batch: int | Callable[[], int],
    kind: str = LineKind.NORMAL,
    count_elders: bool = False,
) -> tuple[int | None, int]:
    """Write the statement's lines that are not paid yet into ``batch`` (an id, or a function
    that opens the batch, called only if a line is missing). Returns (the elders the statement
    read when ``count_elders`` and the database counts them in the same statement, else None;
    the lines added)."""
    if callable(batch):
        select, params = statement.select()
        paid = (
            "SELECT 1 FROM subsidies_paymentline p WHERE p.scheme_id = l.scheme_id "
            "AND p.period = l.period AND p.elder_id = l.elder_id AND p.kind IN (%s, %s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM ({select}) l WHERE NOT EXISTS ({paid}) LIMIT 1",
                params + (LineKind.NORMAL.value, LineKind.ARREARS.value),
            )
            if cursor.fetchone() is None:
                return None, 0
        batch = batch()
    insert = (
        f"INSERT INTO subsidies_paymentline ({', '.join(LINE_COLUMNS + WRITTEN_COLUMNS)}) "
        f"SELECT {statement.columns}, s.insurer_id, %s, %s, %s, '', '', '', %s {statement.body} "
        "ON CONFLICT DO NOTHING"
    )
    params = (
        statement.head_params
        + statement.column_params
        + (batch, kind, LineStatus.PENDING.value, timezone.now())
        + statement.body_params
    )
    with connection.cursor() as cursor:
        if count_elders and connection.vendor == "postgresql":
            # The chunk's elders read once for both counts (a data-modifying WITH).
            cursor.execute(
                f"{statement.head}, written AS ({insert} RETURNING 1) "
                "SELECT (SELECT count(*) FROM elders), (SELECT count(*) FROM written)",
                params,
            )
            return cursor.fetchone()
        cursor.execute(f"{statement.head} {insert}", params)
        return None, cursor.rowcount


def lines_of(statement: ChunkStatement) -> list[tuple]:
    """The statement's lines as rows of ``LINE_COLUMNS`` (inputs as the database gives them)."""
    select, params = statement.select()
    with connection.cursor() as cursor:
        cursor.execute(select, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class OwedLine:
    """A line a payee is owed for a month by the rules in force now, as the run writes it."""

    amount: Decimal
    policy_value_id: int
    inputs: dict


def owed_lines(
    plan: PeriodPlan, *, region_path: str, id_from: int, id_to: int
) -> dict[tuple[int, int], OwedLine]:
    """{(elder, scheme): the line} the elders of an id range registered under ``region_path``
    are owed by ``plan``, read with the run's own statement, writing nothing (the policy
    preview and the corrections of months already run read it)."""
    statement = chunk_statement(plan, region_path=region_path, id_from=id_from, id_to=id_to)
    if statement is None:
        return {}
    return {
        (elder_id, scheme_id): OwedLine(
            amount=money(amount),
            policy_value_id=policy_value_id,
            inputs=json.loads(inputs) if isinstance(inputs, str) else inputs,
        )
        for scheme_id, _period, elder_id, amount, policy_value_id, inputs in lines_of(statement)
    }
