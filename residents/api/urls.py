from rest_framework.routers import DefaultRouter

from residents.api.views import AssessmentViewSet, ElderViewSet

router = DefaultRouter()
router.register("elders", ElderViewSet, basename="elder")
router.register("assessments", AssessmentViewSet, basename="assessment")

urlpatterns = router.urls
