"""Who acts next on a rectification case, as viewflow human-task nodes."""
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from workflow.flows import CaseFlow, case_task_view
from workflow.models import Role

UNIT, SUPERVISOR = "unit", "supervisor"


class RectificationFlow(CaseFlow):
    """Rectification task

    Issue → sign → rectify → unit-head approval → review → leader sign-off.
    """

    process_title = _("Rectification task")

    start = flow.StartHandle(this.start_case).Next(this.issue)
    issue = flow.View(case_task_view).Annotation(title=_("Issue the case")).Next(this.sign)
    sign = flow.View(case_task_view).Annotation(title=_("Sign for the case")).Next(this.rectify)
    decide_refusal = flow.View(case_task_view).Annotation(title=_("Decide on a refused case")).Next(this.sign)
    rectify = flow.View(case_task_view).Annotation(title=_("Rectify and report")).Next(this.head_approval)
    head_approval = flow.View(case_task_view).Annotation(title=_("Approve the unit's report")).Next(this.review)
    review = flow.View(case_task_view).Annotation(title=_("Review the rectification")).Next(this.sign_off)
    sign_off = flow.View(case_task_view).Annotation(title=_("Sign off the closure")).Next(this.end)

    _rectify = (("rectify", Role.HANDLER, UNIT),)
    _review = (("review", Role.INSPECTOR, SUPERVISOR),)
    state_waits = {
        "draft": (("issue", Role.INSPECTOR, SUPERVISOR),),
        "issued": (("sign", Role.HANDLER, UNIT),),
        "refused": (("decide_refusal", Role.INSPECTOR, SUPERVISOR),),
        "signed": _rectify,
        "rectifying": _rectify,
        "returned": _rectify,
        "long_term": _rectify,
        "pending_head": (("head_approval", Role.UNIT_HEAD, UNIT),),
        "submitted": _review,
        "under_review": _review,
        "accepted": (("sign_off", Role.LEADER, SUPERVISOR),),
    }
