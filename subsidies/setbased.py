"""The monthly run's chunk as one SQL statement (PostgreSQL).

On PostgreSQL a chunk of the run is written by a single ``INSERT … SELECT … ON CONFLICT DO
NOTHING``: the elders of the chunk's id range registered in the run's region and alive on the
1st, their categories held that day, their latest assessment when a scheme needs it, matched to
the nearest rate region of the plan and filtered by the same conditions as
``subsidies.rules.is_eligible``. No elder row travels to Python, so the run costs what the
database costs. Each line's ``inputs`` holds exactly what the Python path writes, and
``tests/subsidies/test_set_based_run.py`` checks that both give the same lines.

The plan (schemes, amounts, policy values) is resolved once per run in Python, as before; this
module only turns it into SQL parameters.
"""

from __future__ import annotations

import datetime
import json

from django.db import connection
from django.utils import timezone

from regions.models import Region
from residents.choices import PensionType
from subsidies.choices import Eligibility, LineKind, LineStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk
from subsidies.run.plan import PeriodPlan

_PLAN_ROW = (
    "(%s, %s, %s::numeric, %s, %s, %s::int, %s::int, %s::int, %s::text[], %s::text[], %s::jsonb)"
)

# Mirrors subsidies.rules.is_eligible; ``in_band`` is rules.in_age_band.
_ELIGIBLE = """
    CASE s.eligibility
        WHEN %(age_band)s THEN {in_band}
        WHEN %(resident_pension)s THEN {in_band} AND e.pension_type = %(resident)s
        WHEN %(category)s THEN {in_band} AND {holds}
        WHEN %(category_or_age)s THEN
            (s.all_from_age IS NOT NULL AND e.age >= s.all_from_age) OR ({in_band} AND {holds})
        WHEN %(nursing_tier)s THEN
            {in_band} AND {holds} AND COALESCE(e.ability_level = ANY(s.ability_levels), false)
        ELSE false
    END
""".format(
    in_band="((s.min_age IS NULL OR e.age >= s.min_age) AND (s.max_age IS NULL OR e.age <= s.max_age))",
    holds="COALESCE(e.categories && s.categories, false)",
)

_STATEMENT = """
WITH plan (node, scheme_id, amount, policy_value_id, eligibility, min_age, max_age,
           all_from_age, categories, ability_levels, inputs) AS (VALUES {plan_rows}),
nodes (region_id, node) AS (SELECT * FROM unnest(%(region_ids)s::bigint[], %(node_of)s::int[])),
held AS (
    SELECT c.elder_id, array_agg(c.category::text ORDER BY c.category COLLATE "C") AS categories
    FROM residents_eldercategory c
    WHERE c.elder_id BETWEEN %(id_from)s AND %(id_to)s
      AND c.start_date <= %(on)s AND (c.end_date IS NULL OR c.end_date >= %(on)s)
    GROUP BY c.elder_id
),
levels AS (
    SELECT DISTINCT ON (a.elder_id) a.elder_id, a.final_level::text AS final_level
    FROM residents_abilityassessment a
    WHERE %(needs_levels)s AND a.elder_id BETWEEN %(id_from)s AND %(id_to)s
      AND a.assessed_on <= %(on)s
    ORDER BY a.elder_id, a.assessed_on DESC, a.id DESC
),
elders AS (
    SELECT e.id, e.birth_date, e.pension_type, r.code AS region_code, m.node,
           h.categories,
           CASE WHEN h.categories IS NOT NULL THEN l.final_level END AS ability_level,
           %(year)s - EXTRACT(YEAR FROM e.birth_date)::int
             - CASE WHEN (EXTRACT(MONTH FROM e.birth_date), EXTRACT(DAY FROM e.birth_date))
                         > (%(month)s, 1) THEN 1 ELSE 0 END AS age
    FROM residents_elder e
    JOIN regions_region r ON r.id = e.hukou_region_id
    JOIN nodes m ON m.region_id = e.hukou_region_id
    LEFT JOIN held h ON h.elder_id = e.id
    LEFT JOIN levels l ON l.elder_id = e.id
    WHERE e.id BETWEEN %(id_from)s AND %(id_to)s
      AND r.path LIKE %(path_prefix)s
      AND (e.death_date IS NULL OR e.death_date >= %(on)s)
),
written AS (
    INSERT INTO subsidies_paymentline
        (batch_id, scheme_id, period, elder_id, amount, kind, status, policy_value_id, inputs,
         note, bank_reference, bank_message, created_at)
    SELECT %(batch_id)s, s.scheme_id, %(on)s, e.id, s.amount, %(kind)s, %(status)s,
           s.policy_value_id,
           s.inputs || jsonb_build_object(
               'on', %(on_text)s,
               'age', e.age,
               'birth_date', to_char(e.birth_date, 'YYYY-MM-DD'),
               'categories', to_jsonb(COALESCE(e.categories, '{{}}'::text[])),
               'pension_type', e.pension_type,
               'ability_level', e.ability_level,
               'hukou_region', e.region_code),
           '', '', '', %(now)s
    FROM elders e JOIN plan s ON s.node = e.node
    WHERE {eligible}
    ORDER BY e.id, s.scheme_id
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM elders), (SELECT count(*) FROM written)
"""


def available() -> bool:
    return connection.vendor == "postgresql"


def _node_of_regions(run: AllowanceRun, node_paths: list[str]) -> tuple[list[int], list[int]]:
    """Every region inside the run's region → the index of its nearest planned rate region
    (node paths are deepest first, so the first prefix match is the nearest)."""
    region_ids, node_of = [], []
    for region_id, path in Region.objects.within(run.region).values_list("id", "path"):
        index = next((i for i, node in enumerate(node_paths) if path.startswith(node)), None)
        if index is not None:
            region_ids.append(region_id)
            node_of.append(index)
    return region_ids, node_of


def insert_chunk_lines(
    *,
    run: AllowanceRun,
    chunk: AllowanceRunChunk,
    plan: PeriodPlan,
    kind: str = LineKind.NORMAL,
) -> tuple[int, int]:
    """Write the chunk's lines of the run's month into the run's batch in one statement.
    Returns (elders alive in the chunk, lines added)."""
    named: dict = {}
    plan_rows = []
    for index, node in enumerate(plan.nodes):
        for planned in node.schemes:
            c = planned.conditions
            values = [
                index,
                planned.scheme_id,
                planned.amount,
                planned.policy_value_id,
                c.eligibility,
                c.min_age,
                c.max_age,
                c.all_from_age,
                sorted(c.categories),
                sorted(c.ability_levels),
                json.dumps(planned.line_inputs(node.region), ensure_ascii=False),
            ]
            row = len(plan_rows)
            keys = [f"p{row}_{column}" for column in range(len(values))]
            named.update(zip(keys, values, strict=True))
            plan_rows.append(_PLAN_ROW % tuple(f"%({key})s" for key in keys))
    if not plan_rows:
        return 0, 0
    region_ids, node_of = _node_of_regions(run, [node.path for node in plan.nodes])
    on: datetime.date = run.period
    named |= {
        "region_ids": region_ids,
        "node_of": node_of,
        "id_from": chunk.id_from,
        "id_to": chunk.id_to,
        "on": on,
        "on_text": on.isoformat(),
        "year": on.year,
        "month": on.month,
        "needs_levels": plan.needs_levels,
        "path_prefix": run.region.path + "%",
        "batch_id": run.batch_id,
        "kind": kind,
        "status": LineStatus.PENDING.value,
        "now": timezone.now(),
        "age_band": Eligibility.AGE_BAND.value,
        "resident_pension": Eligibility.AGE_AND_RESIDENT_PENSION.value,
        "resident": PensionType.RESIDENT.value,
        "category": Eligibility.CATEGORY.value,
        "category_or_age": Eligibility.AGE_AND_CATEGORY_OR_AGE.value,
        "nursing_tier": Eligibility.NURSING_TIER.value,
    }
    sql = _STATEMENT.format(plan_rows=", ".join(plan_rows), eligible=_ELIGIBLE)
    with connection.cursor() as cursor:
        cursor.execute(sql, named)
        seen, written = cursor.fetchone()
    return seen, written


__all__ = ["available", "insert_chunk_lines"]
