"""One scoping mechanism for the admin, the API, exports and commands.

Every model that holds data of a place registers how to reach that place (region paths, a
facility); ``scoped(queryset, user)`` then narrows any queryset of it to what the user's roles
cover. Views, admin classes, exports and commands all call this one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Model, Q, QuerySet

from accounts.choices import Role


@dataclass(frozen=True)
class ScopeRule:
    region_lookups: tuple[str, ...] = ()  # lookups that end at a Region's `path`
    facility_lookup: str | None = None  # lookup that ends at a Facility's pk
    public: bool = False  # reference data every signed-in user may read


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    region_paths: tuple[str, ...] = ()
    facility_ids: tuple[int, ...] = ()
    read_only: bool = True
    roles: frozenset[str] = field(default_factory=frozenset)


_RULES: dict[type[Model], ScopeRule] = {}


def register_scope(
    model: type[Model],
    *,
    regions: tuple[str, ...] = (),
    facility: str | None = None,
    public: bool = False,
) -> None:
    _RULES[model] = ScopeRule(region_lookups=regions, facility_lookup=facility, public=public)


def scope_of(user) -> Scope:
    if not user.is_authenticated or not user.is_active:
        return Scope()
    if user.is_superuser:
        return Scope(everything=True, read_only=False)
    cached = getattr(user, "_scope_cache", None)
    if cached is not None:
        return cached
    assignments = list(user.role_assignments.select_related("region"))
    roles = frozenset(a.role for a in assignments)
    scope = Scope(
        region_paths=tuple(a.region.path for a in assignments if a.region_id),
        facility_ids=tuple(facility_ids_of(user)),
        read_only=roles <= {Role.AUDITOR},
        roles=roles,
    )
    user._scope_cache = scope
    return scope


def facility_ids_of(user) -> list[int]:
    """Facilities a user works for (institution staff); empty until facilities wires it."""
    getter = _FACILITY_GETTER
    return list(getter(user)) if getter else []


_FACILITY_GETTER = None


def register_facility_getter(getter) -> None:
    global _FACILITY_GETTER
    _FACILITY_GETTER = getter


def scope_filter(model: type[Model], scope: Scope) -> Q | None:
    """The Q that keeps what the scope covers; None = no restriction."""
    if scope.everything:
        return None
    rule = _RULES.get(model)
    if rule is None:
        raise LookupError(f"{model.__name__} has no scope rule: register it in accounts/rules.py")
    if rule.public:
        return None
    condition = Q(pk__in=[])
    for lookup in rule.region_lookups:
        for path in scope.region_paths:
            condition |= Q(**{f"{lookup}__startswith": path})
    if rule.facility_lookup and scope.facility_ids:
        condition |= Q(**{f"{rule.facility_lookup}__in": scope.facility_ids})
    return condition


def scoped(queryset: QuerySet, user) -> QuerySet:
    """The part of ``queryset`` the user may see. Multi-valued lookups are resolved through a
    primary-key subquery so that counts and pagination stay exact (no duplicate rows)."""
    condition = scope_filter(queryset.model, scope_of(user))
    if condition is None:
        return queryset
    model = queryset.model
    return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))
