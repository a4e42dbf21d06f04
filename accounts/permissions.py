"""The API and admin side of scoping: querysets narrowed by ``scoped``; auditors read only."""

from __future__ import annotations

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.utils.translation import gettext, gettext_lazy
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.constraint_messages import (
    describe_integrity_error,
    readable,
    readable_errors,
)
from accounts.scoping import (
    OutOfScopeWrite,
    describe,
    in_write_scope,
    require_in_scope,
    scope_of,
    scope_rule,
    scoped,
    scoped_for_write,
    stored_in_write_scope,
)


class ScopedWritePermission(BasePermission):
    """Authenticated users; writes only for roles that are not read-only (auditors)."""

    message = gettext_lazy("只读角色不能修改数据。")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or not scope_of(request.user).read_only


class ScopedQuerysetMixin:
    """For DRF views: every list, detail, search, filter and count goes through ``scoped``.

    An object outside the scope is simply not found (404), so its existence does not leak.
    """

    permission_classes = [ScopedWritePermission]

    def get_queryset(self):
        return scoped(super().get_queryset(), self.request.user)


def _held_keys(form, name) -> list:
    """The related records a saved record holds in field ``name``, read from the record as
    stored (never from the request: an add page's ?elder= must not open a choice)."""
    instance = getattr(form, "instance", None)
    if instance is None or instance.pk is None or instance._state.adding:
        return []
    if name == instance._meta.pk.name:
        return [instance.pk]  # an inline row's own key
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return []
    if field.many_to_many:
        return list(getattr(instance, name).values_list("pk", flat=True))
    if field.is_relation and field.concrete:
        return [getattr(instance, field.attname)]
    return []


def _narrow_choices(form, user) -> None:
    """Related records offered by a form (selects, autocompletes, and what the form accepts
    back) are those of the user's scope, and the ones the record already holds (kept, not
    chosen: a caregiver's past employer stays on their page); public reference data (regions)
    stays whole."""
    for name, field in form.fields.items():
        queryset = getattr(field, "queryset", None)
        if queryset is None or not isinstance(field, forms.ModelChoiceField):
            continue
        rule = scope_rule(queryset.model)
        if rule is not None and not rule.public:
            reachable = scoped(queryset.model._default_manager.all(), user).values("pk")
            held = _held_keys(form, name)
            field.queryset = queryset.filter(Q(pk__in=reachable) | Q(pk__in=held))


def _chosen_field(form) -> str | None:
    """The related record or region the writer changed: where a refusal of the record as it
    will be saved is shown."""
    return next(
        (
            name
            for name in form.changed_data
            if isinstance(form.fields.get(name), forms.ModelChoiceField)
        ),
        None,
    )


def refusal_by_field(error: Exception) -> dict[str | None, list[str]]:
    """What a save refused by a service or the database says, by field (``None``: the record
    as a whole), in words a user reads (never a constraint's name)."""
    if isinstance(error, ValidationError):
        return readable_errors(error)
    if isinstance(error, IntegrityError):
        _conflict, fields, message = describe_integrity_error(error)
        return {fields[0].name if fields else None: [message]}
    return {None: [str(error)]}


def scope_checked_form(
    form_class,
    user,
    *,
    placed_by_inlines: bool = False,
    inline: bool = False,
    refused: dict | None = None,
):
    """``form_class`` (a ModelForm of the admin or of an inline) that offers only related
    records of ``user``'s scope and refuses, as form errors, a record outside it as stored or
    as it will be saved. ``placed_by_inlines``: a new record of this model is placed by the
    rows its inlines add (a caregiver by an employment), so the admin checks it once those are
    saved (ScopedAdminMixin.save_related). ``inline``: a row of an inline, which is saved only
    when changed, and checked only then. ``refused``: what the save of this very input was
    refused for (ScopedAdminMixin.changeform_view), shown as the form's errors.

    A constraint's default message among the form's errors is replaced by the rule in words."""

    class ScopeCheckedForm(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            _narrow_choices(self, user)

        def _post_clean(self):
            super()._post_clean()
            for messages in self._errors.values():
                messages[:] = [readable(m) for m in messages]
            for field, messages in (refused or {}).items():
                self.add_error(field if field in self.fields else None, messages)
            if self.errors:
                return  # a record half-built from bad input has no place to check yet
            if inline and not self.has_changed():
                return  # an unchanged row is not written
            instance = self.instance
            adding = instance.pk is None or instance._state.adding
            try:
                require_in_scope(user, instance, as_changed=False)
                if not (adding and placed_by_inlines):
                    require_in_scope(user, instance, as_stored=False, field=_chosen_field(self))
            except OutOfScopeWrite as error:
                self.add_error(error.field if error.field in self.fields else None, error.message)

    ScopeCheckedForm.__name__ = form_class.__name__
    ScopeCheckedForm.__qualname__ = form_class.__qualname__
    return ScopeCheckedForm


class ScopedAdminMixin:
    """For ModelAdmin classes: the changelist, detail pages, autocompletes and actions see only
    the user's scope; auditors see everything in their scope read-only.

    Writes stay in the scope too: add and change forms (and their inlines) offer only related
    records of the scope and refuse a record outside it, as stored or as it would be saved; a
    record readable but not writable (public reference data of another region) opens
    read-only; deleting is refused outside the scope; and after a save with its inlines the
    record must still lie in the scope, or the whole save is rolled back."""

    # A new record of this model is placed in a scope by the rows its inlines add.
    scope_placed_by_inlines = False

    def registers_outside_scope(self, request) -> bool:
        """Whether this user creates new records of this model that lie outside their scope
        once saved (institution staff register an elder they are about to admit, whom the
        admission then brings into their scope). The service that creates the record decides
        the same; by default no one does."""
        return False

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    def _read_only(self, request) -> bool:
        return scope_of(request.user).read_only

    def _writable(self, request, obj) -> bool:
        return obj is None or in_write_scope(request.user, obj, as_changed=False)

    def has_add_permission(self, request, *args) -> bool:
        return not self._read_only(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return (
            not self._read_only(request)
            and super().has_change_permission(request, obj)
            and self._writable(request, obj)
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return (
            not self._read_only(request)
            and super().has_delete_permission(request, obj)
            and self._writable(request, obj)
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        placed_later = obj is None and self.registers_outside_scope(request)
        return scope_checked_form(
            form,
            request.user,
            placed_by_inlines=self.scope_placed_by_inlines or placed_later,
            refused=getattr(request, "_save_refused", None),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A save the service or the database refuses (a ValidationError from ``save_model``,
        a constraint) is never a 500: the admin's transaction is rolled back and the same input
        is shown again with the refusal as the form's errors."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, IntegrityError) as error:
            if request.method != "POST" or getattr(request, "_save_refused", None):
                raise
            request._save_refused = refusal_by_field(error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_formsets_with_inlines(self, request, obj=None):
        # Rows added with a new record placed by its inlines are checked with it, once saved.
        placed_later = obj is None and self.scope_placed_by_inlines
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            formset.form = scope_checked_form(
                formset.form, request.user, placed_by_inlines=placed_later, inline=True
            )
            yield formset, inline

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The record as saved with its inlines (the admin's save is one transaction: a refusal
        # here undoes all of it).
        obj = form.instance
        if not change and self.registers_outside_scope(request):
            return
        if obj.pk is not None and not stored_in_write_scope(request.user, type(obj), obj.pk):
            raise OutOfScopeWrite(gettext("%(what)s不在您的管辖范围内。") % {"what": describe(obj)})

    def delete_queryset(self, request, queryset):
        outside = queryset.exclude(pk__in=scoped_for_write(queryset, request.user).values("pk"))
        if outside.exists():
            raise OutOfScopeWrite(
                gettext("所选%(kind)s不在您的管辖范围内。")
                % {"kind": queryset.model._meta.verbose_name}
            )
        super().delete_queryset(request, queryset)

    # django-simple-history's pages fall back to the historical rows when the object is not in
    # get_queryset(), and its "revert" form saves a past version directly: both would bypass
    # the scope and the services. History is shown for objects in scope only, and read only.
    def _require_in_scope(self, request, object_id) -> None:
        from django.contrib.admin.utils import unquote
        from django.http import Http404

        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        from django.http import HttpResponseNotAllowed

        self._require_in_scope(request, object_id)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None) -> bool:
        return True
