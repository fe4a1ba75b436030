from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    """The generic supervision engine: units, cases, evidence, audit, calendar."""

    name = "workflow"
    verbose_name = _("Workflow engine")
    default_auto_field = "django.db.models.BigAutoField"
