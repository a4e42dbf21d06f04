from django.urls import path
from rest_framework.routers import DefaultRouter

from facilities.api import views

router = DefaultRouter()
router.register("facilities", views.FacilityViewSet, basename="facility")
router.register("beds", views.BedViewSet, basename="bed")
router.register("stays", views.StayViewSet, basename="stay")
router.register("applications", views.ApplicationViewSet, basename="application")
router.register("caregivers", views.CaregiverViewSet, basename="caregiver")

urlpatterns = [
    path("staffing/", views.StaffingView.as_view(), name="facilities-staffing"),
    path("workforce/", views.WorkforceView.as_view(), name="facilities-workforce"),
    path("lookup/", views.LookupView.as_view(), name="facilities-lookup"),
    *router.urls,
]
