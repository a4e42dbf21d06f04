from django.contrib import admin
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


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
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(api_patterns)),
    path("dashboard/", include("dashboards.urls")),
    path("m/visits/", include("visits.urls")),
]
