from django.urls import path

from visits.api import views

urlpatterns = [
    path("visits/", views.VisitListCreateView.as_view(), name="visits-visit-list"),
    path("visits/batch/", views.VisitBatchView.as_view(), name="visits-visit-batch"),
    path("today/", views.TodayView.as_view(), name="visits-today"),
    path("tasks/", views.FollowUpTaskListView.as_view(), name="visits-task-list"),
    path("tasks/<int:pk>/close/", views.FollowUpTaskCloseView.as_view(), name="visits-task-close"),
    path(
        "tasks/<int:pk>/confirm-death/",
        views.FollowUpTaskConfirmDeathView.as_view(),
        name="visits-task-confirm-death",
    ),
    path("compliance/", views.ComplianceView.as_view(), name="visits-compliance"),
    path("health-checks/", views.HealthCheckView.as_view(), name="visits-health-checks"),
]
