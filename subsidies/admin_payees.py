"""Payee accounts in the admin: a list and a page that show the number masked (its last four
digits), and a detail view that shows it whole on a POST with a reason, recorded in the audit
trail. Accounts are written by the elders' import, the API and subsidies.payees, which check
the writer's scope and keep the history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from accounts.choices import AuditAction
from accounts.permissions import ScopedAdminMixin
from subsidies.models import PayeeAccount
from subsidies.payees import account_number
from subsidies.selectors import payee_identifier

# The audit trail's action for a whole account number shown (beside 查看完整身份证号).
VIEW_ACCOUNT_NUMBER = AuditAction.VIEW_ACCOUNT_NUMBER


@admin.register(PayeeAccount)
class PayeeAccountAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "payee_display",
        "payee_id_number",
        "channel",
        "bank",
        "masked",
        "holder_name",
        "updated_at",
    ]
    list_filter = ["channel"]
    search_fields = [
        "elder__name",
        "caregiver__name",
        "facility__name",
        "insurer__name",
        "account_last4",
    ]
    list_select_related = ["elder", "caregiver", "facility", "insurer"]
    fields = [
        "payee_display",
        "payee_id_number",
        "channel",
        "bank",
        "masked",
        "holder_name",
        "updated_at",
        "updated_by",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a payee's account is replaced, never deleted (the history keeps it)

    @admin.display(description=_("领取人"))
    def payee_display(self, account):
        return str(account.payee)

    @admin.display(description=_("证件号码"))
    def payee_id_number(self, account):
        return payee_identifier(account.payee)

    @admin.display(description=_("账号"))
    def masked(self, account):
        return account.masked_number

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/reveal/",
                view(self.reveal_view),
                name="subsidies_payeeaccount_reveal",
            ),
            *super().get_urls(),
        ]

    def reveal_view(self, request, pk):
        """GET: a form asking why; POST with a reason: the whole number, shown once on the
        page (never in a URL) and recorded in the audit trail."""
        from accounts.services import record_audit

        if not self.has_view_permission(request):
            raise PermissionDenied
        account = get_object_or_404(self.get_queryset(request), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("查看完整账号"),
            "account": account,
            "opts": self.model._meta,
        }
        if request.method == "POST":
            reason = request.POST.get("reason", "").strip()
            if not reason:
                messages.error(request, _("请填写查看完整账号的原因。"))
                return redirect("admin:subsidies_payeeaccount_reveal", account.pk)
            record_audit(
                user=request.user,
                action=VIEW_ACCOUNT_NUMBER,
                object_type="subsidies.PayeeAccount",
                object_id=str(account.pk),
                reason=reason[:200],
            )
            context["number"] = account_number(account)
        return TemplateResponse(request, "admin/subsidies/payeeaccount/reveal.html", context)
