from django.urls import path
from rest_framework.routers import DefaultRouter

from servicelist.api.records import (
    HomeAdaptationViewSet,
    HomeCareBedViewSet,
    MealPointViewSet,
    RespiteStayViewSet,
)
from servicelist.api.views import (
    CoverageView,
    DeliveryViewSet,
    ElderItemsView,
    RegionListView,
    ServiceItemViewSet,
    SurveyViewSet,
)

router = DefaultRouter()
router.register("items", ServiceItemViewSet, basename="service-item")
router.register("deliveries", DeliveryViewSet, basename="service-delivery")
router.register("meal-points", MealPointViewSet, basename="meal-point")
router.register("adaptations", HomeAdaptationViewSet, basename="home-adaptation")
router.register("home-care-beds", HomeCareBedViewSet, basename="home-care-bed")
router.register("respite-stays", RespiteStayViewSet, basename="respite-stay")
router.register("surveys", SurveyViewSet, basename="satisfaction-survey")

urlpatterns = [
    path("list/", RegionListView.as_view(), name="service-list"),
    path("coverage/", CoverageView.as_view(), name="service-coverage"),
    path("elder-items/", ElderItemsView.as_view(), name="service-elder-items"),
    *router.urls,
]
