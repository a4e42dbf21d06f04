from django.contrib import admin
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views


def health(request):
    """Liveness and database reachability, for load balancers; no authentication."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


api_patterns = [
    path("auth/", include("accounts.api.urls")),
    path("regions/", include("regions.api.urls")),
    path("residents/", include("residents.api.urls")),
    path("facilities/", include("facilities.api.urls")),
    path("visits/", include("visits.api.urls")),
    path("subsidies/", include("subsidies.api.urls")),
    path("servicelist/", include("servicelist.api.urls")),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    # Before the admin's own: the same page, which sends each user to their starting page.
    path("admin/login/", account_views.sign_in, name="sign-in"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    # Browsers ask for /favicon.ico on their own, whatever the page names.
    path("favicon.ico", account_views.favicon),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(api_patterns)),
    path("dashboard/", include("dashboards.urls")),
    path("m/visits/", include("visits.urls")),
]
