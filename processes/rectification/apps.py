from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RectificationConfig(AppConfig):
    """Rectification tasks (整改任务)."""

    name = "processes.rectification"
    label = "rectification"
    verbose_name = _("Rectification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .declaration import Rectification
        from .documents import declare

        declare(Rectification.key)  # the documents archived as its cases change state
