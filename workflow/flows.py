"""The generic base for every case flow: viewflow nodes for human tasks, derived from state."""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.flow import Flow

from .models import CaseRequest, Role


@dataclass(frozen=True)
class Wait:
    """Who must act next: a flow node, a role, and the unit whose members hold it."""

    node: str
    role: str
    unit_id: int


def case_task_view(request, **kwargs):
    """A task is acted on from its case's page."""
    from django.shortcuts import redirect

    from .http import not_found
    from .models import Case

    case = Case.objects.visible_to(request.user).filter(pk=kwargs["process_pk"]).first()
    if case is None:
        not_found(request, "case", kwargs["process_pk"])
    return redirect(case.get_absolute_url())


class CaseFlow(Flow):
    """Base flow. Subclasses declare their human-task nodes and map states to them.

    ``state_waits`` maps a case state to ``(node, role, where)`` with ``where`` either
    ``"unit"`` (the responsible unit) or ``"supervisor"`` (the supervising unit).
    Approval chains of side requests (extension, cancellation) use ``request_node``.
    """

    lock_impl = lock.select_for_update_lock
    state_waits: dict[str, tuple[tuple[str, str, str], ...]] = {}

    start = flow.StartHandle(this.start_case).Next(this.approve_request)
    approve_request = flow.View(case_task_view).Annotation(title=_("Approve request")).Next(this.end)
    end = flow.End()

    def start_case(self, activation, **kwargs):  # pragma: no cover - cases start through the engine
        return activation.process

    def waits(self, case, pending_requests=()) -> set[Wait]:
        found = {Wait(node, role, case.unit_id_for(where))
                 for node, role, where in self.state_waits.get(case.status, ())}
        for req in pending_requests:
            role = req.waiting_role
            where = "unit" if role in (Role.UNIT_HEAD, Role.HANDLER) else "supervisor"
            found.add(Wait("approve_request", role, case.unit_id_for(where)))
        return found


def pending_requests(case):
    """The case's pending side requests, reusing what its permission checks already read."""
    if not case.open_requests:
        return []
    cached = getattr(case, "_pending_cache", None)
    if cached is not None:
        return list(cached.values())
    return list(CaseRequest.objects.filter(case_id=case.pk, status=CaseRequest.Status.PENDING))
