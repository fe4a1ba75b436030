from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeploymentConfig(AppConfig):
    """督办事项 (supervised items from work plans, instructions and meeting decisions)."""

    name = "processes.deployment"
    label = "deployment"
    verbose_name = _("Supervised items")
    default_auto_field = "django.db.models.BigAutoField"
