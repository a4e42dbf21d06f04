"""Application configs the project gives to third-party apps, for names they do not translate."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    """django-axes (the login lockout) as the admin names it; its models' and fields' Chinese
    names are in ``locale/zh_Hans`` (axes ships no Chinese catalogue)."""

    verbose_name = _("登录锁定")
