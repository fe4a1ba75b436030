"""Reads shared by every case type: the inbox and a case's timeline."""
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from .models import AuditEvent
from .models.units import unit_scope


def inbox_todo(user):
    """Open tasks waiting for the user's role in the user's unit (待办)."""
    if not user.is_authenticated or user.unit_id is None:
        return Task.objects.none()
    return (Task.objects.filter(status__in=[STATUS.NEW, STATUS.ASSIGNED], owner_permission=user.role,
                                owner_permission_obj_pk=str(user.unit_id))
            .order_by("created"))


def inbox_done(user):
    """Tasks the user completed (已办), newest first, on cases within what the user may see
    now: after a move to another unit, the old unit's cases are no longer listed."""
    scope = unit_scope(user, via="process__case__unit__")
    if scope is None:
        return Task.objects.none()
    return (Task.objects.filter(scope, owner=user, status=STATUS.DONE)
            .order_by("-finished"))


def case_timeline(case):
    return AuditEvent.objects.filter(case_id=case.pk, outcome=AuditEvent.Outcome.OK).order_by("seq")
