"""Personal data on a record's admin page: masked by default, shown whole on request.

A page shows an ID number or phone masked, with a 显示完整 button beside it. The button asks
for the reason, and the whole value comes back from a POST (never in the page, never in a URL):
each request is recorded in the audit trail with its reason, and counted against the user's
budget for whole ID numbers (``accounts.throttling.id_number_lookup_refused``), so masked
numbers cannot be completed by asking again and again."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.selectors import sees_full_personal_data
from accounts.services import REVEALABLE, reveal_personal_data
from accounts.throttling import id_number_lookup_refused


class NewPhoneFormMixin:
    """For a ModelForm of a record with a ``phone``: on a saved record the stored phone is
    shown masked beside its 显示完整 button, never as the field's value (which would put the
    whole number in the page). A new number is typed in the field; a blank keeps the one on
    record."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "phone" in self.fields:
            self.initial["phone"] = ""
            self.fields["phone"].label = gettext_lazy("新的联系电话")
            self.fields["phone"].help_text = gettext_lazy("留空则不变。")

    def clean_phone(self):
        phone = self.cleaned_data.get("phone", "")
        if not phone and self.instance.pk:
            return self.instance.phone
        return phone


def masked_value(field: str, value: str) -> str:
    return REVEALABLE[field].mask(value) if value else ""


class RevealPersonalDataMixin:
    """For a ModelAdmin: ``masked_<field>`` display methods for each of ``reveal_fields`` and
    the POST view behind their 显示完整 buttons (``<pk>/reveal/<field>/``)."""

    reveal_fields: tuple[str, ...] = ("id_number", "phone")

    def masked_fields(self, request, fields: list[str]) -> list[str]:
        """A saved record's fields with each of ``reveal_fields`` shown masked (with its
        button); the phone is also offered as a blank field for a new number to the roles
        that may change it (see NewPhoneFormMixin)."""
        shown = []
        for name in fields:
            if name in self.reveal_fields:
                shown.append(f"{name}_shown")
                if name == "phone" and sees_full_personal_data(request.user):
                    shown.append("phone")
            else:
                shown.append(name)
        return shown

    @admin.display(description=gettext_lazy("身份证号"))
    def id_number_shown(self, obj):
        return self.reveal_control(obj, "id_number")

    @admin.display(description=gettext_lazy("联系电话"))
    def phone_shown(self, obj):
        return self.reveal_control(obj, "phone")

    class Media:
        js = ["accounts/reveal.js"]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The record of this request knows who looks at it: the display methods, which
            # are given the record alone, offer the button to those who may use it.
            obj._revealer = request.user
        return obj

    def reveal_control(self, obj, field: str):
        """The masked value and, for the roles whose work needs the whole value, the button."""
        value = getattr(obj, field) or ""
        masked = masked_value(field, value)
        user = getattr(obj, "_revealer", None)
        if not value or obj.pk is None or user is None or not sees_full_personal_data(user):
            return masked or "—"
        info = self.model._meta.app_label, self.model._meta.model_name
        url = reverse(f"admin:{info[0]}_{info[1]}_reveal", args=[obj.pk, field])
        return format_html(
            '<span class="reveal" data-url="{}">'
            '<span class="reveal-value">{}</span> '
            '<input type="text" class="reveal-reason" maxlength="200" aria-label="{}" '
            'placeholder="{}"> '
            '<button type="button" class="reveal-button button">{}</button> '
            '<span class="reveal-error errornote" role="alert" hidden></span></span>',
            url,
            masked,
            _("查看事由"),
            _("查看事由（必填）"),
            _("显示完整"),
        )

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        own = [
            path(
                "<path:object_id>/reveal/<str:field>/",
                self.admin_site.admin_view(require_POST(self.reveal_view)),
                name="{}_{}_reveal".format(*info),
            )
        ]
        return own + super().get_urls()

    def reveal_view(self, request, object_id, field):
        if field not in self.reveal_fields:
            raise Http404
        obj = self.get_object(request, unquote(object_id))  # within the user's scope
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        wait = id_number_lookup_refused(request)
        if wait is not None:
            return JsonResponse(
                {
                    "error": _("查看完整信息过于频繁，请 %(minutes)d 分钟后再试。")
                    % {"minutes": max(1, round(wait / 60))}
                },
                status=429,
            )
        try:
            value = reveal_personal_data(
                user=request.user,
                obj=obj,
                field=field,
                reason=request.POST.get("reason", ""),
                via="admin",
            )
        except PermissionDenied:
            return JsonResponse({"error": _("您的角色不能查看完整信息。")}, status=403)
        except ValidationError as error:
            return JsonResponse({"error": "；".join(error.messages)}, status=400)
        return JsonResponse({"value": value})
