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

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.utils.translation import gettext as _

from accounts.choices import Role

# A lookup ending at a Region's `path` (matched with __startswith), or a function of the path
# that returns the condition (for conditions a plain lookup cannot say). A function may also
# say, with a ``matches(instance, path)`` method, whether a record in memory meets it: writes
# are checked before they are saved (see ``require_in_scope``).
RegionLookup = str | Callable[[str], Q]
# A lookup ending at a Facility's pk (matched with __in), or a function of the facility ids
# (with an optional ``matches(instance, ids)`` likewise).
FacilityLookup = str | Callable[[tuple[int, ...]], Q]


@dataclass(frozen=True)
class ScopeRule:
    region_lookups: tuple[RegionLookup, ...] = ()
    facility_lookup: FacilityLookup | None = None
    public: bool = False  # reference data every signed-in user may read
    # Per-role lookups that replace ``region_lookups`` for that role (empty = nothing).
    role_lookups: Mapping[str, tuple[RegionLookup, ...]] = field(default_factory=dict)
    # Reference data everyone reads is written only within an area: these lookups say where
    # a public record belongs for writes (None: superusers and commands only).
    write_lookups: tuple[RegionLookup, ...] | None = None


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
    writes: tuple[RegionLookup, ...] | None = None,
) -> None:
    _RULES[model] = ScopeRule(
        region_lookups=tuple(regions),
        facility_lookup=facility,
        public=public,
        role_lookups=dict(by_role or {}),
        write_lookups=None if writes is None else tuple(writes),
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


def is_bureau_over(user, region=None) -> bool:
    """A civil-affairs bureau that writes (or a superuser); with ``region``, a bureau whose own
    area holds it (another role's area, such as finance's, does not count). The decisions only
    a bureau takes (its rates, its approvals) ask this besides the record's scope."""
    scope = scope_of(user)
    if scope.everything:
        return True
    if Role.BUREAU not in scope.roles or scope.read_only:
        return False
    return region is None or any(
        region.path.startswith(path) for role, path in scope.region_grants if role == Role.BUREAU
    )


def _rule(model: type[Model]) -> ScopeRule:
    rule = _RULES.get(model)
    if rule is None:
        raise LookupError(f"{model.__name__} has no scope rule: register it in accounts/rules.py")
    return rule


# How a lookup's end is compared with a grant: a region path is a prefix, facilities a set.
STARTSWITH, IN = "startswith", "in"


def _alternatives(model: type[Model], scope: Scope, *, write: bool = False):
    """The (lookup, grant, comparison) alternatives of the scope for ``model``: a record is in
    the scope when it meets one. The one definition the queryset filter and the check of a
    record in memory both read, so reads and writes cannot disagree."""
    rule = _rule(model)
    app = model._meta.app_label
    public_write = write and rule.public
    for role, path in scope.region_grants:
        if not role_reaches_app(role, app):
            continue
        if public_write:
            lookups = rule.write_lookups or ()
        else:
            lookups = rule.role_lookups.get(role, rule.region_lookups)
        for lookup in lookups:
            yield lookup, path, STARTSWITH
    if not public_write and rule.facility_lookup and scope.facility_ids:
        yield rule.facility_lookup, scope.facility_ids, IN


def _condition(lookup, grant, comparison: str) -> Q:
    if callable(lookup):
        return lookup(grant)
    return Q(**{f"{lookup}__{comparison}": grant})


def _any_of(model: type[Model], scope: Scope, *, write: bool) -> Q:
    condition = Q(pk__in=[])
    for lookup, grant, comparison in _alternatives(model, scope, write=write):
        condition |= _condition(lookup, grant, comparison)
    return condition


def scope_filter(model: type[Model], scope: Scope) -> Q | None:
    """The Q that keeps what the scope covers; None = no restriction."""
    if scope.everything:
        return None
    if _rule(model).public:
        return None
    return _any_of(model, scope, write=False)


def write_filter(model: type[Model], scope: Scope) -> Q | None:
    """The Q that keeps what the scope may write; None = no restriction. Read-only roles write
    nothing; public reference data only where its write lookups place it."""
    if scope.everything:
        return None
    if scope.read_only:
        return Q(pk__in=[])
    return _any_of(model, scope, write=True)


def scoped(queryset: QuerySet, user) -> QuerySet:
    """The part of ``queryset`` the user may see. Multi-valued lookups are resolved through a
    primary-key subquery so that counts and pagination stay exact (no duplicate rows)."""
    return _narrowed(queryset, scope_filter(queryset.model, scope_of(user)))


def scoped_for_write(queryset: QuerySet, user) -> QuerySet:
    """The part of ``queryset`` the user may change (form choices, actions, imports)."""
    return _narrowed(queryset, write_filter(queryset.model, scope_of(user)))


def _narrowed(queryset: QuerySet, condition: Q | None) -> QuerySet:
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
        raise OutOfScope(
            _("区划 %(code)s（%(name)s）不在您的权限范围内。")
            % {"code": region.code, "name": region.name}
        )


# --- writes ------------------------------------------------------------------------------------
#
# A write is in the writer's scope when the record lies in it as stored (the writer may touch
# it) and as it will be saved (the writer does not move it, or create it, outside): a street
# worker may neither rename an elder of another street nor register one elsewhere. The scope is
# the read scope of accounts/rules.py (public reference data has its own write lookups); the
# services check it with ``require_in_scope``, and ``by=None`` (commands, tasks, the demo) is
# the system, unrestricted.


class OutOfScopeWrite(PermissionDenied):
    """A write reaching outside the writer's scope. With ``field``, the writer chose the value
    that lies outside (a region, a related record): the API answers 400 naming the field, the
    admin shows it on that field. Without, the record itself lies outside: the API answers 404,
    as it does for a record the user cannot read."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def messages(self) -> list[str]:
        return [self.message]

    @property
    def message_dict(self) -> dict[str, list[str]]:
        return {self.field or NON_FIELD_ERRORS: [self.message]}


def _compare(value, grant, comparison: str) -> bool:
    if value is None:
        return False
    return value in grant if comparison == IN else str(value).startswith(grant)


def lookup_matches(instance: Model, lookup, grant, comparison: str = STARTSWITH) -> bool:
    """Whether ``instance`` as it is in memory meets one lookup: foreign keys are followed in
    memory (a changed region counts before it is saved); a reverse or many-to-many relation is
    asked of the database from the last record reached."""
    if callable(lookup):
        matches = getattr(lookup, "matches", None)
        if matches is not None:
            return matches(instance, grant)
        if instance.pk is None:
            return False
        return type(instance)._default_manager.filter(pk=instance.pk).filter(lookup(grant)).exists()
    obj = instance
    parts = lookup.split(LOOKUP_SEP)
    for index, name in enumerate(parts):
        if name == "pk":
            return _compare(obj.pk, grant, comparison)
        model_field = obj._meta.get_field(name)
        if not model_field.is_relation:
            return _compare(getattr(obj, model_field.attname), grant, comparison)
        if model_field.concrete and (model_field.many_to_one or model_field.one_to_one):
            key = getattr(obj, model_field.attname)
            if index == len(parts) - 1:
                return _compare(key, grant, comparison)
            if key is None and not model_field.is_cached(obj):
                return False
            # A related record not saved yet (a building added with its new facility) is
            # followed in memory too.
            obj = getattr(obj, name)
            if obj is None:
                return False
            continue
        if obj.pk is None:
            return False  # a record not saved yet has no related rows
        rest = LOOKUP_SEP.join(parts[index:])
        return (
            type(obj)
            ._default_manager.filter(pk=obj.pk, **{f"{rest}__{comparison}": grant})
            .exists()
        )
    return False


def in_write_scope(
    user, instance: Model, *, as_stored: bool = True, as_changed: bool = True
) -> bool:
    """Whether ``user`` may write ``instance``: ``as_stored``, the saved record as the database
    holds it (a form or a service may already have changed it in memory); ``as_changed``, the
    record as it is in memory, about to be saved. ``user`` None is the system."""
    if user is None:
        return True
    scope = scope_of(user)
    if scope.everything:
        return True
    if scope.read_only:
        return False
    model = type(instance)
    saved = instance.pk is not None and not instance._state.adding
    if as_stored and saved and not _stored_in(model, instance.pk, scope):
        return False
    return not as_changed or any(
        lookup_matches(instance, lookup, grant, comparison)
        for lookup, grant, comparison in _alternatives(model, scope, write=True)
    )


def _stored_in(model: type[Model], pk, scope: Scope) -> bool:
    condition = write_filter(model, scope)
    rows = model._default_manager.filter(pk=pk)
    return condition is None or rows.filter(condition).exists()


def stored_in_write_scope(user, model: type[Model], pk) -> bool:
    """Whether the saved record ``pk`` of ``model``, as the database now holds it, lies in
    ``user``'s write scope (after a save that went through a service, say)."""
    if user is None:
        return True
    scope = scope_of(user)
    return scope.everything or (not scope.read_only and _stored_in(model, pk, scope))


def describe(instance: Model) -> str:
    """How a refusal names a record: its kind and, once saved, its name."""
    kind = instance._meta.verbose_name
    if instance.pk is None:
        return str(kind)
    return _("%(kind)s“%(name)s”") % {"kind": kind, "name": instance}


def require_in_scope(
    user,
    instance: Model,
    *,
    field: str | None = None,
    label: str | None = None,
    as_stored: bool = True,
    as_changed: bool = True,
) -> None:
    """Refuse (OutOfScopeWrite) a write of ``instance`` outside ``user``'s scope, as stored and
    as it will be saved (see ``in_write_scope``); ``label`` names the record in the message
    (default: its kind and name), ``field`` the input that chose it. ``user`` None is the
    system, unrestricted; superusers are unrestricted; auditors write nothing."""
    if not in_write_scope(user, instance, as_stored=as_stored, as_changed=as_changed):
        raise OutOfScopeWrite(
            _("%(record)s不在您的管辖范围内。") % {"record": label or describe(instance)},
            field=field,
        )
