from django.urls import path

from accounts.api.views import MeView, TokenLoginView

urlpatterns = [
    path("token/", TokenLoginView.as_view(), name="token-login"),
    path("me/", MeView.as_view(), name="me"),
]
