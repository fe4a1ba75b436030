"""The baseline for the write-path benchmark: a plain viewflow flow with one human task,
driven through viewflow's own activations (Start → approve → End)."""
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.flow import Flow

from workflow.cases.flows import case_task_view


class BaselineFlow(Flow):
    """Baseline: one human task"""

    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_process).Next(this.approve)
    approve = flow.View(case_task_view).Assign(this.owner_of).Next(this.end)
    end = flow.End()

    def owner_of(self, activation):
        from django.contrib.auth import get_user_model

        return get_user_model()(pk=activation.process.data["owner"])

    def start_process(self, activation, owner=None):
        activation.process.data = {"owner": owner}
        return activation.process
