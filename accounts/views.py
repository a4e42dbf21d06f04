"""Pages of the accounts app: where a user lands, before and after signing in."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.admin_home import home_url


@never_cache
def home(request):
    """The site's root (the admin's 查看站点 link): the signed-in user's own starting page,
    else the sign-in page."""
    if not request.user.is_authenticated:
        return redirect("admin:login")
    return redirect(home_url(request.user))


@never_cache
def sign_in(request):
    """The admin's sign-in page; a sign-in that asked for no page in particular lands on the
    user's own starting page (street workers on their phone page) instead of the admin."""
    response = admin.site.login(request)
    asked = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
    if (
        request.method == "POST"
        and response.status_code == 302
        and request.user.is_authenticated
        and asked in (None, "", reverse("admin:index"))
    ):
        return redirect(home_url(request.user))
    return response


def favicon(request):
    """Browsers ask for /favicon.ico whatever a page names: the project's icon."""
    return redirect(static("accounts/favicon.svg"), permanent=True)
