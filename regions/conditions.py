"""The condition language: who a rule is for, stated as data.

A condition is a small tree of JSON objects (a column in the database, an inline table in the
TOML data files). Each node is an object with exactly one operator:

- ``{"all": [c, …]}`` every condition holds (``{"all": []}`` holds for everyone);
- ``{"any": [c, …]}`` at least one holds (at least one condition);
- ``{"not": c}`` c does not hold;
- ``{"age_at_least": 80}`` aged 80 or more in completed years on the day (docs/policy.md §0:
  "80周岁以上" includes 80); ``{"age_at_least": {"key": "visit_high_age_threshold"}}`` takes the
  age from the rulebook, resolved for the region the rule is applied in and the day;
- ``{"age_at_most": 89}`` aged 89 or less (the same two forms);
- ``{"category": ["living_alone", …]}`` holds at least one of these categories on the day;
- ``{"ability_level": ["moderate", …]}`` the latest ability assessment on or before the day
  has one of these levels (never assessed: no level, so it does not hold);
- ``{"pension_type": ["resident"]}`` the elder's pension is one of these;
- ``{"disability_category": ["intellectual", …]}`` the category of the elder's disability
  certificate (残疾人证) is one of these; ``{"disability_grade": [1, 2]}`` its grade (1 = 一级)
  is one of these (no certificate: neither holds);
- ``{"registered_in": ["330106"]}`` household registration (户籍) in one of these regions or
  below; ``{"resides_in": […]}`` the same for the residence (常住地);
- ``{"lives_at_home": true}`` lives at home (居家) on the day: no stay in a care institution's bed
  open that day (a stay runs from its first day up to, not including, its last; a home-care
  bed, 家庭养老床位, is at home);
- ``{"placed_by_county": true}`` placed in institutional care by the county (经县级民政部门批准
  纳入机构养老) on the day: a stay in a care institution's bed open that day whose placement the
  county civil-affairs bureau approved on or before the day (Stay.placement_approved_on).

Any node may also carry ``"as": "code"``: when the node holds, ``reasons`` reports the code
(a visit list says *why* an elder is on it). A category node without one reports the
categories the elder holds from its list.

One definition, two readings that cannot drift apart (a property test holds them equal):
``to_q`` compiles a condition to a Django ``Q`` over Elder (SQLite and PostgreSQL alike) for
set-based readers, and ``evaluate`` reads it in Python over one elder's ``Facts`` for readers
that walk days (visit schedules).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import and_, or_

from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import In
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from regions.catalog import KEYS
from regions.choices import PolicyUnit
from residents.ages import add_years, age_on
from residents.choices import (
    AbilityLevel,
    Category,
    DisabilityCategory,
    DisabilityGrade,
    PensionType,
)

COMBINATORS = ("all", "any", "not")
AGE_LEAVES = ("age_at_least", "age_at_most")
REGION_LEAVES = ("registered_in", "resides_in")
DISABILITY_LEAVES = ("disability_category", "disability_grade")
LIST_LEAVES = ("category", "ability_level", "pension_type", *DISABILITY_LEAVES, *REGION_LEAVES)
# Leaves read from the elder's stays, written ``true`` (the opposite is ``not``).
STAY_LEAVES = ("lives_at_home", "placed_by_county")
LEAVES = (*AGE_LEAVES, *LIST_LEAVES, *STAY_LEAVES)
OPERATORS = (*COMBINATORS, *LEAVES)
ANNOTATION = "as"

# The choices each list leaf accepts (regions take codes, checked against the tree on save).
_CHOICES = {
    "category": Category,
    "ability_level": AbilityLevel,
    "pension_type": PensionType,
    "disability_category": DisabilityCategory,
    "disability_grade": DisabilityGrade,
}
# The oldest age a rule can name; a typo such as 800 is refused rather than never met.
MAX_AGE = 150
# Deeper trees are a mistake (or an attack on the parser), not a policy.
MAX_DEPTH = 12
# Constant answers as filters. Q() is no constant: Q() | x is x, so "true or x" would read as x.
TRUE = Q(Value(True))
FALSE = Q(Value(False))
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_REGION_CODE = re.compile(r"^\d{6}(\d{3}){0,3}$")

OPERATOR_LABELS = {
    "all": gettext_lazy("全部满足"),
    "any": gettext_lazy("满足其一"),
    "not": gettext_lazy("不满足"),
    "age_at_least": gettext_lazy("年满（周岁）"),
    "age_at_most": gettext_lazy("不超过（周岁）"),
    "category": gettext_lazy("类别"),
    "ability_level": gettext_lazy("能力等级"),
    "pension_type": gettext_lazy("养老保险类型"),
    "disability_category": gettext_lazy("残疾类别"),
    "disability_grade": gettext_lazy("残疾等级"),
    "registered_in": gettext_lazy("户籍地"),
    "resides_in": gettext_lazy("常住地"),
    "lives_at_home": gettext_lazy("居家"),
    "placed_by_county": gettext_lazy("经县级批准入住养老机构"),
}


# --- validation ---------------------------------------------------------------------------


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _error(path: str, message: str) -> ValidationError:
    return ValidationError(
        _("%(path)s：%(message)s") % {"path": path, "message": message}, code="invalid_condition"
    )


def validate(condition, *, leaves: Iterable[str] | None = None, path: str | None = None) -> None:
    """Raise ValidationError naming the path of the first bad node (e.g. ``条件.any[1].category``)
    and what is wrong with it, in Chinese. ``leaves`` limits the leaf operators allowed (a
    subject of rules may read only some facts, as staffing classes read only the level)."""
    allowed = frozenset(LEAVES if leaves is None else leaves)
    _validate(condition, allowed, _("条件") if path is None else path, 0)


def _validate(node, allowed: frozenset[str], path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _error(path, _("条件嵌套超过 %(n)s 层。") % {"n": MAX_DEPTH})
    if not isinstance(node, dict):
        raise _error(
            path,
            _('应为一个条件对象（如 {"category": [...]}），而不是 %(value)s。')
            % {"value": _shown(node)},
        )
    operators = [k for k in node if k != ANNOTATION]
    if len(operators) != 1:
        shown = "、".join(map(str, operators)) or _("无")
        raise _error(path, _("每个条件须恰好有一个运算符，此处为：%(shown)s。") % {"shown": shown})
    operator = operators[0]
    if ANNOTATION in node:
        label = node[ANNOTATION]
        if not isinstance(label, str) or not _CODE.match(label):
            raise _error(
                f"{path}.as",
                _("标记应为小写英文代码（如 disabled），而不是 %(value)s。")
                % {"value": _shown(label)},
            )
    if operator not in OPERATORS:
        raise _error(
            path,
            _("未知的运算符“%(operator)s”；可用：%(known)s。")
            % {"operator": operator, "known": "、".join(OPERATORS)},
        )
    here = f"{path}.{operator}"
    value = node[operator]
    if operator in ("all", "any"):
        if not isinstance(value, list):
            raise _error(here, _("应为条件列表。"))
        if operator == "any" and not value:
            raise _error(here, _("至少需要一个条件。"))
        for index, child in enumerate(value):
            _validate(child, allowed, f"{here}[{index}]", depth + 1)
        return
    if operator == "not":
        _validate(value, allowed, here, depth + 1)
        return
    if operator not in allowed:
        raise _error(
            here,
            _("此类规则不能使用“%(operator)s”条件。") % {"operator": OPERATOR_LABELS[operator]},
        )
    if operator in AGE_LEAVES:
        _validate_age(value, here)
        return
    if operator in STAY_LEAVES:
        if value is not True:
            raise _error(
                here,
                _('应为 true（不在家的写作 {"not": ...}），而不是 %(value)s。')
                % {"value": _shown(value)},
            )
        return
    if not isinstance(value, list) or not value:
        raise _error(here, _("应为非空的代码列表。"))
    if len(set(map(repr, value))) != len(value):
        raise _error(here, _("列表中有重复的代码。"))
    for index, code in enumerate(value):
        item = f"{here}[{index}]"
        if operator in REGION_LEAVES:
            if not isinstance(code, str) or not _REGION_CODE.match(code):
                raise _error(
                    item,
                    _("%(value)s 不是区划代码（6、9、12 或 15 位数字）。")
                    % {"value": _shown(code)},
                )
            continue
        choices = _CHOICES[operator]
        # bool is an int in Python: true would read as grade 1.
        if isinstance(code, bool) or code not in choices.values:
            raise _error(
                item,
                _("未知的%(operator)s代码 %(value)s；可用：%(known)s。")
                % {
                    "operator": OPERATOR_LABELS[operator],
                    "value": _shown(code),
                    "known": "、".join(map(str, choices.values)),
                },
            )


def _validate_age(value, path: str) -> None:
    if isinstance(value, dict):
        if set(value) != {"key"}:
            raise _error(path, _('引用参数时应写作 {"key": "参数名"}。'))
        key = value["key"]
        if key not in KEYS:
            raise _error(f"{path}.key", _("未知的政策参数“%(key)s”。") % {"key": key})
        if KEYS[key].unit != PolicyUnit.AGE:
            raise _error(
                f"{path}.key", _("参数“%(label)s”不是年龄（周岁）。") % {"label": KEYS[key].label}
            )
        return
    # bool is an int in Python: true would read as 1 year old.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
        raise _error(
            path,
            _('应为 0–%(max)s 的整数周岁或 {"key": "参数名"}，而不是 %(value)s。')
            % {"max": MAX_AGE, "value": _shown(value)},
        )


# --- what a condition mentions -------------------------------------------------------------


def _walk(node):
    yield node
    operator = next(k for k in node if k != ANNOTATION)
    if operator in ("all", "any"):
        for child in node[operator]:
            yield from _walk(child)
    elif operator == "not":
        yield from _walk(node["not"])


def _leaves(condition, operators: Iterable[str]):
    wanted = set(operators)
    for node in _walk(condition):
        for operator in wanted & set(node):
            yield operator, node[operator]


def operators_of(condition) -> set[str]:
    return {next(k for k in node if k != ANNOTATION) for node in _walk(condition)}


def annotations_of(condition) -> set[str]:
    """The reason codes (``as``) the condition names."""
    return {node[ANNOTATION] for node in _walk(condition) if ANNOTATION in node}


def keys_of(condition) -> set[str]:
    """The rulebook keys the condition reads (ages given by a key)."""
    return {v["key"] for _op, v in _leaves(condition, AGE_LEAVES) if isinstance(v, dict)}


def codes_of(condition, operator: str) -> set[str]:
    """Every code a list leaf of this operator names (categories, levels, regions)."""
    return {code for _op, codes in _leaves(condition, [operator]) for code in codes}


def _age(value, values: Mapping[str, object] | None) -> int:
    if not isinstance(value, dict):
        return value
    key = value["key"]
    if values is None or key not in values:
        raise KeyError(f"the condition reads {key}; pass its value in `values`")
    resolved = values[key]
    number = Decimal(resolved)
    if number != number.to_integral_value() or number < 0:
        raise ValueError(f"{key} is {resolved}: an age must be a whole number of years")
    return int(number)


def threshold_ages(condition, values: Mapping[str, Iterable] | None = None) -> set[int]:
    """The ages at whose birthdays the condition may change its answer: N for "N or more",
    N + 1 for "N or less". ``values`` gives, for each key, every value it may take."""
    ages = set()
    for operator, value in _leaves(condition, AGE_LEAVES):
        candidates = (
            [int(Decimal(v)) for v in (values or {}).get(value["key"], ())]
            if isinstance(value, dict)
            else [value]
        )
        ages.update(n if operator == "age_at_least" else n + 1 for n in candidates)
    return ages


# --- the Python reading --------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What a condition reads about one elder on one day. ``categories`` are those held on
    ``on``; ``ability_level`` is the final level of the latest assessment on or before ``on``
    (latest date, then latest entered), None if never assessed; paths are region paths
    ("330000/330100/330106/…/"), empty when unknown."""

    on: datetime.date
    birth_date: datetime.date
    categories: frozenset[str] = frozenset()
    ability_level: str | None = None
    pension_type: str = ""
    # The disability certificate: category code and grade 1–4; "" and None without one.
    disability_category: str = ""
    disability_grade: int | None = None
    hukou_path: str = ""
    residence_path: str = ""
    # In a care institution on ``on`` (a stay open that day); None: the reader did not read
    # stays, and a condition that asks raises rather than guess.
    in_institution: bool | None = None
    # In a care institution on ``on`` in a stay whose placement the county approved on or
    # before ``on``; None: not read (a condition that asks raises).
    placed_by_county: bool | None = None


def _at_home(f: Facts) -> bool:
    if f.in_institution is None:
        raise ValueError("the condition reads lives_at_home: pass Facts.in_institution")
    return not f.in_institution


def _placed_by_county(f: Facts) -> bool:
    if f.placed_by_county is None:
        raise ValueError("the condition reads placed_by_county: pass Facts.placed_by_county")
    return f.placed_by_county


def placed_on(
    stays: Iterable[tuple[datetime.date, datetime.date | None, datetime.date | None]],
    on: datetime.date,
) -> bool:
    """Whether one of ``stays`` — (first day, end day or None, approval day or None) of an
    elder's stays in care institutions' beds — is open on ``on`` with its placement approved
    by then: the Python reading of ``placed_by_county``, for readers that build Facts."""
    return any(
        first <= on and (end is None or on < end) and approved is not None and approved <= on
        for first, end, approved in stays
    )


def facts_on(
    on: datetime.date,
    *,
    birth_date: datetime.date,
    categories: Iterable[tuple[str, datetime.date, datetime.date | None]] = (),
    assessments: Iterable[tuple[datetime.date, str]] = (),
    stays: Iterable[tuple[datetime.date, datetime.date | None, datetime.date | None]] | None = None,
    **columns,
) -> Facts:
    """An elder's Facts on ``on`` from their records as a reader holds them (one query per
    table for a whole population): ``categories`` (code, first day, last day or None),
    ``assessments`` (assessed on, final level) newest first (latest date, then latest
    entered), ``stays`` in institutions' beds (first day, end day or None, placement approved
    on or None) or None when not read; ``columns``: the Facts read off the elder's own row
    (pension_type, disability_category, disability_grade, hukou_path, residence_path)."""
    return Facts(
        on=on,
        birth_date=birth_date,
        categories=frozenset(
            code for code, first, last in categories if first <= on and (last is None or on <= last)
        ),
        ability_level=next(
            (level for assessed_on, level in assessments if assessed_on <= on), None
        ),
        in_institution=None
        if stays is None
        else any(first <= on and (end is None or on < end) for first, end, _approved in stays),
        placed_by_county=None if stays is None else placed_on(stays, on),
        **columns,
    )


def _in_region(path: str | None, codes: Iterable[str]) -> bool:
    return bool(path) and any(path.startswith(f"{c}/") or f"/{c}/" in path for c in codes)


Predicate = Callable[[Facts], bool]


def predicate(condition, *, values: Mapping[str, object] | None = None) -> Predicate:
    """The condition as a Python function of Facts, built once and called per elder and day."""
    operator = next(k for k in condition if k != ANNOTATION)
    value = condition[operator]
    if operator == "all":
        parts = [predicate(c, values=values) for c in value]
        return lambda f: all(p(f) for p in parts)
    if operator == "any":
        parts = [predicate(c, values=values) for c in value]
        return lambda f: any(p(f) for p in parts)
    if operator == "not":
        inner = predicate(value, values=values)
        return lambda f: not inner(f)
    if operator == "age_at_least":
        n = _age(value, values)
        return lambda f: age_on(f.birth_date, f.on) >= n
    if operator == "age_at_most":
        n = _age(value, values)
        return lambda f: age_on(f.birth_date, f.on) <= n
    if operator == "lives_at_home":
        return _at_home
    if operator == "placed_by_county":
        return _placed_by_county
    codes = frozenset(value)
    if operator == "category":
        return lambda f: not codes.isdisjoint(f.categories)
    if operator == "ability_level":
        return lambda f: f.ability_level in codes
    if operator == "pension_type":
        return lambda f: f.pension_type in codes
    if operator == "disability_category":
        return lambda f: f.disability_category in codes
    if operator == "disability_grade":
        return lambda f: f.disability_grade in codes
    if operator == "registered_in":
        return lambda f: _in_region(f.hukou_path, codes)
    if operator == "resides_in":
        return lambda f: _in_region(f.residence_path, codes)
    raise ValueError(f"unknown operator {operator!r}")  # validate() refuses it first


def evaluate(condition, facts: Facts, *, values: Mapping[str, object] | None = None) -> bool:
    """Whether the elder of ``facts`` meets the condition on ``facts.on``."""
    return predicate(condition, values=values)(facts)


Explainer = Callable[[Facts], "list[str] | None"]


def explainer(condition, *, values: Mapping[str, object] | None = None) -> Explainer:
    """The condition as a Python function of Facts that says why it holds: None when it does
    not hold; otherwise the codes, in the order the condition names them, of the ``as`` of
    each holding node that has one and, for a category node without one, the categories held
    from its list (possibly none). Built once, called per elder and day."""
    if ANNOTATION in condition:
        holds = predicate(condition, values=values)
        code = condition[ANNOTATION]
        return lambda f: [code] if holds(f) else None
    operator = next(iter(condition))
    value = condition[operator]
    if operator in ("all", "any"):
        parts = [explainer(c, values=values) for c in value]
        needs_all = operator == "all"

        def combined(f: Facts) -> list[str] | None:
            found, held = [], 0
            for part in parts:
                reasons = part(f)
                if reasons is None:
                    if needs_all:
                        return None
                    continue
                held += 1
                found.extend(reasons)
            return found if (needs_all or held) else None

        return combined
    if operator == "category":
        listed = list(value)
        return lambda f: [c for c in listed if c in f.categories] or None
    holds = predicate(condition, values=values)
    return lambda f: [] if holds(f) else None


def reasons(condition, facts: Facts, *, values: Mapping[str, object] | None = None) -> list[str]:
    """Why the condition holds for ``facts`` (see ``explainer``); empty when it does not."""
    return list(dict.fromkeys(explainer(condition, values=values)(facts) or []))


# --- the query reading ---------------------------------------------------------------------


def _elder_ref(prefix: str) -> str:
    """The outer query's column holding the elder's id: ``pk`` on Elder, ``elder_id`` through
    ``elder__`` (no join for it)."""
    return f"{prefix.removesuffix('__')}_id" if prefix else "pk"


def _region_q(field: str, codes: Iterable[str]) -> Q:
    # A region's path lists its ancestors' codes: "330000/330100/330106/…/".
    return reduce(
        or_,
        (
            Q(**{f"{field}__path__startswith": f"{code}/"})
            | Q(**{f"{field}__path__contains": f"/{code}/"})
            for code in sorted(codes)
        ),
    )


def _narrowed(rows, elder_ids):
    """``rows`` (with an ``elder_id``) of the population only: ``elder_ids`` is an id range
    (low, high) — a chunk — or a subquery of the population's ids — an area's elders, so that
    a street's subquery holds the street's rows, small enough to be hashed once, rather than
    the whole registry's (which PostgreSQL re-reads for every elder once it outgrows its
    memory, under an OR)."""
    if elder_ids is None:
        return rows
    if isinstance(elder_ids, tuple):
        return rows.filter(elder_id__gte=elder_ids[0], elder_id__lte=elder_ids[1])
    return rows.filter(elder_id__in=elder_ids)


def _categories_held(
    ref: str, codes, start: datetime.date, end: datetime.date, elder_ids=None
) -> Q:
    """Holds one of ``codes`` on some day of [start, end]. An IN over a plain subquery rather
    than a correlated EXISTS: both databases read the subquery once for a whole population
    (and elder_id is never NULL, so NOT IN is exact). ``elder_ids`` (low, high), when the
    population is an id range, keeps the subquery to the categories of that range."""
    from residents.models import ElderCategory

    held = ElderCategory.objects.filter(category__in=sorted(codes), start_date__lte=end).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=start)
    )
    return Q(**{f"{ref}__in": _narrowed(held, elder_ids).values("elder_id")})


def latest_level(on: datetime.date, *, prefix: str = "") -> Coalesce:
    """The final level of the elder's latest assessment on or before ``on`` (latest date,
    then latest entered), '' if none: '' matches no level, and ``not`` of a level list then
    holds, as in Python (a NULL would make both the test and its negation unknown)."""
    from residents.models import AbilityAssessment

    latest = (
        AbilityAssessment.objects.filter(elder_id=OuterRef(_elder_ref(prefix)), assessed_on__lte=on)
        .order_by("-assessed_on", "-id")
        .values("final_level")[:1]
    )
    return Coalesce(Subquery(latest), Value(""))


def institution_stays():
    """Stays in a care institution's bed: a home-care bed (家庭养老床位) is at home."""
    from facilities.choices import BedType
    from facilities.models import Stay

    return Stay.objects.exclude(bed__bed_type=BedType.HOME_CARE)


def _in_institution(ref: str, first: datetime.date, last: datetime.date) -> Q:
    """In a care institution on every day of [first, last]: a stay that starts on or before
    ``first`` and has not ended by ``last`` (a stay's last day is the day it ends, not spent
    there). An IN over a plain subquery, as for categories (elder_id is never NULL)."""
    stays = institution_stays().filter(start_date__lte=first)
    stays = stays.filter(Q(end_date__isnull=True) | Q(end_date__gt=last))
    return Q(**{f"{ref}__in": stays.values("elder_id")})


def _placed(ref: str, start: datetime.date, end: datetime.date, elder_ids=None) -> Q:
    """Placed in institutional care by the county on some day of [start, end] (on ``start``
    when they are the same day): a stay in an institution's bed open on a day of the period
    whose approval came on or before a day of it it was open. ``elder_ids`` keeps the
    subquery to a chunk's or an area's elders, as for categories (_narrowed)."""
    stays = institution_stays().filter(start_date__lte=end, placement_approved_on__lte=end)
    stays = stays.filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
    # Approved on a day the stay was still open (the approval may precede the admission).
    stays = stays.filter(Q(end_date__isnull=True) | Q(end_date__gt=F("placement_approved_on")))
    return Q(**{f"{ref}__in": _narrowed(stays, elder_ids).values("elder_id")})


def resolve_values(condition, region, on: datetime.date) -> dict[str, Decimal]:
    """The rulebook values of the keys the condition reads, for ``region`` on ``on``
    (PolicyValueNotSet when one is not set)."""
    keys = sorted(keys_of(condition))
    if not keys:
        return {}
    from regions.selectors import resolve_policies

    return {key: resolved.require() for key, resolved in resolve_policies(keys, region, on).items()}


def to_q(
    condition,
    *,
    on: datetime.date,
    prefix: str = "",
    values: Mapping[str, object] | None = None,
    region=None,
    elder_ids: tuple[int, int] | QuerySet | None = None,
) -> Q:
    """The condition as a filter over Elder (or over a model that reaches the elder through
    ``prefix``, e.g. ``"elder__"``) on the day ``on``. Ages are birth-date comparisons:
    aged N or more on D ⟺ born on or before D minus N years (29 February → 28 February,
    residents.ages). Ages given by a key take ``values``, or the rulebook for ``region``.
    ``elder_ids`` (low, high): the filter is only applied to elders of this id range (a chunk),
    so the category subqueries read that range's rows only; or a subquery of elder ids (an
    area's elders), with the same effect."""
    if values is None and keys_of(condition):
        if region is None:
            raise ValueError("the condition reads rulebook keys: pass `values` or `region`")
        values = resolve_values(condition, region, on)
    return _q(condition, on, prefix, values, elder_ids)


def _q(node, on: datetime.date, prefix: str, values, elder_ids=None) -> Q:
    operator = next(k for k in node if k != ANNOTATION)
    value = node[operator]
    if operator == "all":
        return (
            reduce(and_, (_q(c, on, prefix, values, elder_ids) for c in value)) if value else TRUE
        )
    if operator == "any":
        return reduce(or_, (_q(c, on, prefix, values, elder_ids) for c in value))
    if operator == "not":
        return ~_q(value, on, prefix, values, elder_ids)
    if operator == "age_at_least":
        return Q(**{f"{prefix}birth_date__lte": add_years(on, -_age(value, values))})
    if operator == "age_at_most":
        # N or less ⟺ not N + 1 or more.
        return Q(**{f"{prefix}birth_date__gt": add_years(on, -(_age(value, values) + 1))})
    if operator == "category":
        return _categories_held(_elder_ref(prefix), value, on, on, elder_ids)
    if operator == "ability_level":
        return Q(In(latest_level(on, prefix=prefix), sorted(value)))
    if operator == "pension_type":
        return Q(**{f"{prefix}pension_type__in": sorted(value)})
    if operator in DISABILITY_LEAVES:
        return Q(**{f"{prefix}{operator}__in": sorted(value)})
    if operator == "registered_in":
        return _region_q(f"{prefix}hukou_region", value)
    if operator == "resides_in":
        return _region_q(f"{prefix}residence_region", value)
    if operator == "lives_at_home":
        return ~_in_institution(_elder_ref(prefix), on, on)
    if operator == "placed_by_county":
        return _placed(_elder_ref(prefix), on, on, elder_ids)
    raise ValueError(f"unknown operator {operator!r}")


def candidates_q(
    condition,
    *,
    start: datetime.date,
    end: datetime.date,
    prefix: str = "",
    values: Mapping[str, Iterable] | None = None,
) -> Q:
    """A filter that keeps every elder who may meet the condition on some day of
    [start, end] (and possibly some who do not): the cheap first cut of a reader that then
    evaluates day by day. ``values`` gives every value each key may take in the period; a key
    with none makes its age test hold for nobody."""
    return _candidates(condition, start, end, prefix, values or {})


def _merged(children: list) -> list:
    """The children of an ``any``, nested ``any`` flattened and list leaves of one operator
    joined into one (one subquery per table instead of one per leaf, the same elders)."""
    flat, joined = [], {}
    pending = list(children)
    while pending:
        child = pending.pop(0)
        operator = next(k for k in child if k != ANNOTATION)
        if operator == "any":
            pending[:0] = child["any"]
        elif operator in LIST_LEAVES:
            joined.setdefault(operator, set()).update(child[operator])
        else:
            flat.append(child)
    return flat + [{operator: sorted(codes)} for operator, codes in joined.items()]


def _candidates(node, start, end, prefix: str, values) -> Q:
    operator = next(k for k in node if k != ANNOTATION)
    value = node[operator]
    if operator == "all":
        return (
            reduce(and_, (_candidates(c, start, end, prefix, values) for c in value))
            if value
            else TRUE
        )
    if operator == "any":
        return reduce(or_, (_candidates(c, start, end, prefix, values) for c in _merged(value)))
    if operator == "not":
        # Whoever meets the inner condition on one day may miss it on another.
        return TRUE
    if operator == "lives_at_home":
        # At home on some day of the period: not in an institution all of it.
        return ~_in_institution(_elder_ref(prefix), start, end)
    if operator == "placed_by_county":
        return _placed(_elder_ref(prefix), start, end)
    if operator in AGE_LEAVES:
        ages = (
            [int(Decimal(v)) for v in values.get(value["key"], ())]
            if isinstance(value, dict)
            else [value]
        )
        if not ages:
            return FALSE
        if operator == "age_at_least":
            return Q(**{f"{prefix}birth_date__lte": add_years(end, -min(ages))})
        return Q(**{f"{prefix}birth_date__gt": add_years(start, -(max(ages) + 1))})
    if operator == "category":
        return _categories_held(_elder_ref(prefix), value, start, end)
    if operator == "ability_level":
        from residents.models import AbilityAssessment

        assessed = AbilityAssessment.objects.filter(
            assessed_on__lte=end, final_level__in=sorted(value)
        ).values("elder_id")
        return Q(**{f"{_elder_ref(prefix)}__in": assessed})
    # Registration, residence and pension do not change with the day.
    return _q(node, start, prefix, values)


# --- in words ------------------------------------------------------------------------------


def _labels(choices, codes) -> str:
    by_value = dict(choices.choices)
    return "、".join(str(by_value.get(code, code)) for code in codes)


def _age_text(value, values) -> str:
    if not isinstance(value, dict):
        return f"{value}"
    return f"{_age(value, values)}（{KEYS[value['key']].label}）"


def describe(
    condition,
    *,
    values: Mapping[str, object] | None = None,
    region_names: Mapping[str, str] | None = None,
) -> str:
    """The condition as a Chinese phrase, for the admin and for the "why" of a payment line,
    e.g. “年满80周岁，且类别为低保、低保边缘之一”. Region codes are shown with their names
    (read from the tree unless ``region_names`` gives them)."""
    if region_names is None:
        codes = codes_of(condition, "registered_in") | codes_of(condition, "resides_in")
        region_names = {}
        if codes:
            from regions.models import Region

            region_names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    return _describe(condition, values, region_names, top=True)


def _describe(node, values, region_names, *, top: bool = False) -> str:
    operator = next(k for k in node if k != ANNOTATION)
    value = node[operator]
    if operator == "all":
        if not value:
            return _("不限条件（所有人）")
        text = _("，且").join(_describe(c, values, region_names) for c in value)
        return text if top or len(value) == 1 else f"（{text}）"
    if operator == "any":
        text = _("；或").join(_describe(c, values, region_names) for c in value)
        return text if top or len(value) == 1 else f"（{text}）"
    if operator == "not":
        return _("不满足“%(condition)s”") % {
            "condition": _describe(value, values, region_names, top=True)
        }
    if operator in AGE_LEAVES:
        at_least = operator == "age_at_least"
        if isinstance(value, dict) and not (values and value["key"] in values):
            key = KEYS.get(value["key"])
            label = key.label if key else value["key"]
            shown = _("年龄达到“%(label)s”") if at_least else _("年龄不超过“%(label)s”")
            return shown % {"label": label}
        text = _age_text(value, values)
        return (_("年满%(age)s周岁") if at_least else _("不超过%(age)s周岁")) % {"age": text}

    def one_of(label: str, text: str) -> str:
        shown = _("%(label)s为%(text)s") if len(value) == 1 else _("%(label)s为%(text)s之一")
        return shown % {"label": label, "text": text}

    if operator == "lives_at_home":
        return _("居家（未入住养老机构）")
    if operator == "placed_by_county":
        return _("经县级民政部门批准入住养老机构")
    if operator == "category":
        return one_of(_("类别"), _labels(Category, value))
    if operator == "ability_level":
        return one_of(_("最近一次能力评估等级"), _labels(AbilityLevel, value))
    if operator == "pension_type":
        return one_of(_("养老保险类型"), _labels(PensionType, value))
    if operator == "disability_category":
        return one_of(_("残疾人证类别"), _labels(DisabilityCategory, value))
    if operator == "disability_grade":
        return one_of(_("残疾人证等级"), _labels(DisabilityGrade, value))
    places = "、".join(f"{region_names[c]}（{c}）" if c in region_names else c for c in value)
    if operator == "registered_in":
        shown = (
            _("户籍在%(places)s（含下级）")
            if len(value) == 1
            else _("户籍在%(places)s之一（含下级）")
        )
    else:
        shown = (
            _("常住地在%(places)s（含下级）")
            if len(value) == 1
            else _("常住地在%(places)s之一（含下级）")
        )
    return shown % {"places": places}
