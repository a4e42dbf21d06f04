"""One scoping mechanism for the admin, the API, exports and commands.

Every model that holds data of a place registers how to reach that place (region paths, a
facility); ``scoped(queryset, user)`` then narrows any queryset of it to what the user's roles
cover. Views, admin classes, exports and commands all call this one function.

A role over a region reaches the models of the apps that role works with (``ROLE_APPS`` in
accounts/rules.py: finance reaches subsidies, street workers residents and visits, …); a rule
may give one role other lookups (street workers reach elders by residence, not household
registration). Institution staff reach what hangs off their facility.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import Model, Q, QuerySet

from accounts.choices import Role

# A lookup ending at a Region's `path` (matched with __startswith), or a function of the path
# that returns the condition (for conditions a plain lookup cannot say).
RegionLookup = str | Callable[[str], Q]
# A lookup ending at a Facility's pk (matched with __in), or a function of the facility ids.
FacilityLookup = str | Callable[[tuple[int, ...]], Q]


@dataclass(frozen=True)
class ScopeRule:
    region_lookups: tuple[RegionLookup, ...] = ()
    facility_lookup: FacilityLookup | None = None
    public: bool = False  # reference data every signed-in user may read
    # Per-role lookups that replace ``region_lookups`` for that role (empty = nothing).
    role_lookups: Mapping[str, tuple[RegionLookup, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    # (role, region path) for every assignment over a region.
    region_grants: tuple[tuple[str, str], ...] = ()
    facility_ids: tuple[int, ...] = ()
    read_only: bool = True
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def region_paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(path for _, path in self.region_grants))

    def covers_region(self, region, app: str | None = None) -> bool:
        """Whether a region lies within one of the user's areas (for commands, exports and
        views that take a region); with ``app``, only areas of roles that reach that app
        (a finance officer's district does not open its visit figures)."""
        if self.everything:
            return True
        return any(
            region.path.startswith(path)
            for role, path in self.region_grants
            if app is None or role_reaches_app(role, app)
        )


_RULES: dict[type[Model], ScopeRule] = {}
# Which apps a role's region assignment reaches; None = every app. Filled by accounts/rules.py.
_ROLE_APPS: dict[str, frozenset[str] | None] = {}


def register_scope(
    model: type[Model],
    *,
    regions: tuple[RegionLookup, ...] = (),
    facility: FacilityLookup | None = None,
    public: bool = False,
    by_role: Mapping[str, tuple[RegionLookup, ...]] | None = None,
) -> None:
    _RULES[model] = ScopeRule(
        region_lookups=tuple(regions),
        facility_lookup=facility,
        public=public,
        role_lookups=dict(by_role or {}),
    )


def role_reaches_app(role: str, app: str) -> bool:
    if role == Role.INSTITUTION_STAFF:
        return False
    apps = _ROLE_APPS.get(role)
    return apps is None or app in apps


def register_role_apps(role: str, apps: Iterable[str] | None) -> None:
    _ROLE_APPS[role] = None if apps is None else frozenset(apps)


def scope_rule(model: type[Model]) -> ScopeRule | None:
    return _RULES.get(model)


def registered_models() -> list[type[Model]]:
    return list(_RULES)


def scope_of(user) -> Scope:
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope()
    if user.is_superuser:
        return Scope(everything=True, read_only=False)
    cached = getattr(user, "_scope_cache", None)
    if cached is not None:
        return cached
    assignments = list(user.role_assignments.select_related("region"))
    roles = frozenset(a.role for a in assignments)
    facilities = {a.facility_id for a in assignments if a.facility_id}
    scope = Scope(
        region_grants=tuple((a.role, a.region.path) for a in assignments if a.region_id),
        facility_ids=tuple(sorted(facilities)),
        read_only=roles <= {Role.AUDITOR},
        roles=roles,
    )
    user._scope_cache = scope
    return scope


def _region_condition(lookup: RegionLookup, path: str) -> Q:
    return lookup(path) if callable(lookup) else Q(**{f"{lookup}__startswith": path})


def _facility_condition(lookup: FacilityLookup, ids: tuple[int, ...]) -> Q:
    return lookup(ids) if callable(lookup) else Q(**{f"{lookup}__in": ids})


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
    app = model._meta.app_label
    for role, path in scope.region_grants:
        if not role_reaches_app(role, app):
            continue
        for lookup in rule.role_lookups.get(role, rule.region_lookups):
            condition |= _region_condition(lookup, path)
    if rule.facility_lookup and scope.facility_ids:
        condition |= _facility_condition(rule.facility_lookup, scope.facility_ids)
    return condition


def scoped(queryset: QuerySet, user) -> QuerySet:
    """The part of ``queryset`` the user may see. Multi-valued lookups are resolved through a
    primary-key subquery so that counts and pagination stay exact (no duplicate rows)."""
    condition = scope_filter(queryset.model, scope_of(user))
    if condition is None:
        return queryset
    model = queryset.model
    return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))


class OutOfScope(PermissionError):
    """A command or export was asked for a region the user does not cover."""


def require_region_in_scope(user, region, app: str | None = None) -> None:
    """For commands and exports run for a user with ``--region``: refuse a region outside the
    user's areas (for ``app``), naming it."""
    if user is not None and not scope_of(user).covers_region(region, app):
        raise OutOfScope(f"region {region.code} ({region.name}) is outside {user}'s scope")
