from rest_framework.routers import DefaultRouter

from subsidies.api import views

router = DefaultRouter()
router.register("runs", views.RunViewSet, basename="allowance-run")
router.register("corrections", views.CorrectionJobViewSet, basename="correction-job")
router.register("batches", views.BatchViewSet, basename="payment-batch")
router.register("lines", views.PaymentLineViewSet, basename="payment-line")
router.register("facility-subsidies", views.FacilitySubsidyViewSet, basename="facility-subsidy")
router.register("star-rates", views.StarSubsidyRateViewSet, basename="star-subsidy-rate")
router.register("payee-accounts", views.PayeeAccountViewSet, basename="payee-account")
router.register("insurers", views.InsurerViewSet, basename="insurer")
router.register("insurance-covers", views.InsuranceCoverViewSet, basename="insurance-cover")

urlpatterns = router.urls
