from django.urls import path

from visits import views

urlpatterns = [
    path("", views.phone_page, name="visits-phone"),
    path("sw.js", views.phone_service_worker, name="visits-phone-sw"),
]
