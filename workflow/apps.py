from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    """The generic supervision engine: units, cases, evidence, audit, calendar."""

    name = "workflow"
    verbose_name = _("Workflow engine")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from workflow.cases import photos  # noqa: F401 - registers the check of the hash distance
        from workflow.kernel.calendar import forget_calendar
        from workflow.cases.escalation import forget_policies, recount_on_move
        from workflow.models import CalendarDay, CalendarYear, EscalationPolicy
        from workflow.models.units import account_event, unit_moved
        from workflow.trail.audit import record_account_event

        # Keep the in-memory calendar and policies in step with admin edits in this process.
        for model in (CalendarDay, CalendarYear):
            post_save.connect(forget_calendar, sender=model, dispatch_uid=f"forget-{model.__name__}")
            post_delete.connect(forget_calendar, sender=model, dispatch_uid=f"forget-del-{model.__name__}")
        post_save.connect(forget_policies, sender=EscalationPolicy, dispatch_uid="forget-policy")
        post_delete.connect(forget_policies, sender=EscalationPolicy, dispatch_uid="forget-policy-del")
        unit_moved.connect(recount_on_move, dispatch_uid="recount-on-move")
        account_event.connect(record_account_event, dispatch_uid="audit-account-events")
