from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RectificationConfig(AppConfig):
    """Rectification tasks (整改任务)."""

    name = "processes.rectification"
    label = "rectification"
    verbose_name = _("Rectification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from workflow.registry import register_case_type

        from .documents import declare
        from .models import RectificationCase
        from .services import CASE_TYPE

        register_case_type(CASE_TYPE, RectificationCase)
        declare(CASE_TYPE)  # the documents archived as its cases change state
