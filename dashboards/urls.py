from django.urls import path

from dashboards import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("service-statistics/", views.service_statistics, name="dashboard-service-statistics"),
]
