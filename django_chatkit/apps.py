from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class DjangoChatKitConfig(AppConfig):
    name = "django_chatkit"
    verbose_name = _("ChatKit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        # Import every installed app's chatkit_actions module, like admin.py, so its
        # @chatkit_action handlers are registered before the first request.
        autodiscover_modules("chatkit_actions")
