from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeploymentConfig(AppConfig):
    """督办事项 (supervised items from work plans, instructions and meeting decisions)."""

    name = "processes.deployment"
    label = "deployment"
    verbose_name = _("Supervised items")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from workflow.kernel.unit_settings import declare_document

        from .declaration import Matter, SourceKind
        from .documents import declare
        from .services import document_kind

        declare(Matter.key)  # the completion report, archived when a matter is closed

        # Each kind of source is numbered per office and year under its own 机关代字
        # (unit setting doc_code.matter_<kind>); the defaults follow the office's name.
        for kind, suffix in DOC_CODES.items():
            declare_document(document_kind(kind), SourceKind(kind).label, suffix, "pdf/deployment_task_table.html")


# The default code of each kind, after the first two characters of the office's name.
DOC_CODES = {"plan": "督办", "instruction": "批办", "meeting": "议办", "hotline": "转办", "suggestion": "建议办"}
