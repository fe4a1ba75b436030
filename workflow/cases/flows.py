"""The generic base for every case flow: viewflow nodes for human tasks, derived from state."""
from dataclasses import dataclass

from django.http import Http404

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.flow import Flow

from workflow.kernel.declaration import NAMED_ROLE



@dataclass(frozen=True)
class Wait:
    """Who must act next: a flow node, a role, and the unit whose members hold it; or, with
    the role ``named`` (declaration.NAMED_ROLE), the one person whose user id is `unit_id`."""

    node: str
    role: str
    unit_id: int

    def held_by(self, user) -> bool:
        if self.role == NAMED_ROLE:
            return self.unit_id == user.pk
        return self.role == user.role and self.unit_id == user.unit_id


def case_task_view(request, **kwargs):
    """Viewflow wants a view for each human task. Tasks are acted on from their case's page,
    and no URL serves this one."""
    raise Http404


class CaseFlow(Flow):
    """Base flow. A case type's flow is built from its declaration (``build_flow``): one
    human-task node per declared task, plus ``approve_request`` for side requests. The nodes
    have no edges: the engine opens and closes tasks from the case's state."""

    lock_impl = lock.select_for_update_lock
    spec = None

    start = flow.StartHandle(this.start_case).Next(this.approve_request)
    approve_request = flow.View(case_task_view).Annotation(title=_("Approve request")).Next(this.end)
    end = flow.End()

    def start_case(self, activation, **kwargs):  # pragma: no cover - cases start through the engine
        return activation.process

    def waits(self, case, pending_requests=()) -> set[Wait]:
        """Who the case waits for: the tasks of its state and the current step of each pending
        side request, each as (node, role, unit)."""
        state = self.spec.state(case.status)
        found = {Wait(task.node, task.who.role, unit_id) for task in (state.waits if state else ())
                 for unit_id in task.who.unit_ids(case)}
        for req in pending_requests:
            step = case.request_step(req)
            if step is not None:
                found.update(Wait("approve_request", step.role, unit_id) for unit_id in step.unit_ids(case))
        return found


def build_flow(spec, name: str, module: str, doc: str = ""):
    """The viewflow class of a declared case type, named `name` in `module`: the names viewflow
    stores for its processes and tasks (``Process.flow_class``, ``Task.flow_task``)."""
    nodes = {}
    for state in spec.states:
        for task in state.waits:
            nodes.setdefault(task.node, flow.View(case_task_view).Annotation(title=task.title))
    attrs = {"__module__": module, "__qualname__": name, "__doc__": doc or str(spec.label),
             "process_title": spec.label, "spec": spec, **nodes}
    return type(name, (CaseFlow,), attrs)


def pending_requests(case):
    """The case's pending side requests, reusing what its permission checks already read."""
    return list(case.pending_requests_by_kind().values())
