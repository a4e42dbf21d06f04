from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("用户、角色与审计")

    def ready(self) -> None:
        from accounts.authentication import connect_signals
        from accounts.rules import register_all

        register_all()
        connect_signals()
