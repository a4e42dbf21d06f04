from django.urls import path
from rest_framework.routers import DefaultRouter

from regions.api.views import PolicyValueViewSet, RegionViewSet, ResolvePolicyView

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("policy-values", PolicyValueViewSet, basename="policy-value")

urlpatterns = [
    path("policy/resolve/", ResolvePolicyView.as_view(), name="policy-resolve"),
    *router.urls,
]
