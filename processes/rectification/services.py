"""Writes for rectification cases. Views, API and tasks call these and nothing else."""
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow import audit, engine
from workflow.engine import ActionError, Actor
from workflow.evidence import attach_evidence
from workflow.models import Comment, Role, Unit

from .models import DispatchBatch, RectificationCase

CASE_TYPE = "rectification"


def _check_inspector(actor: Actor):
    if actor.user.role != Role.INSPECTOR or actor.user.unit_id is None:
        raise PermissionDenied(_("Only inspectors open rectification cases."))


def _check_target(actor: Actor, unit: Unit):
    if unit.pk == actor.user.unit_id or not unit.path.startswith(actor.user.unit.path):
        raise ActionError(_("Cases can only be sent to units under your own."))


def case_create(*, actor: Actor, unit: Unit, title: str, description: str, requirement: str,
                source: str = "inspection", basis: str = "", deadline_days: int = 10,
                batch: DispatchBatch | None = None, issue: bool = False, token: str = "") -> RectificationCase:
    """Open a draft case for one unit; with ``issue=True`` it is issued in the same step. A web
    form's one-time `token` is claimed in the same transaction."""
    _check_inspector(actor)
    _check_target(actor, unit)
    return engine.start_case(RectificationCase, actor=actor, number_factory=_number_factory(),
                             then="issue" if issue else None, unit=unit, token=token,
                             **_fields(actor, title, description, requirement, source, basis, deadline_days, batch))


def _number_factory():
    year = timezone.localdate().year
    return lambda pk: f"整改〔{year}〕{pk}号"


def _fields(actor, title, description, requirement, source, basis, deadline_days, batch):
    if not (1 <= int(deadline_days) <= 365):
        raise ActionError(_("The time allowed must be between 1 and 365 working days."))
    return dict(case_type=CASE_TYPE, supervisor_unit=actor.user.unit, title=title.strip(),
                description=description.strip(), requirement=requirement.strip(), source=source,
                basis=basis.strip(), deadline_days=int(deadline_days), batch=batch)


def case_dispatch(*, actor: Actor, units: list[Unit], title: str, description: str, requirement: str,
                  source: str = "inspection", basis: str = "", deadline_days: int = 10,
                  token: str = "") -> list[RectificationCase]:
    """Send one problem to many units at once: each gets its own issued case, all or none."""
    _check_inspector(actor)
    if not units:
        raise ActionError(_("Choose at least one unit."))
    for unit in units:
        _check_target(actor, unit)
    fields = _fields(actor, title, description, requirement, source, basis, deadline_days, None)
    with transaction.atomic():
        batch = DispatchBatch.objects.create(title=title.strip()[:200], created_by=actor.user)
        return engine.start_cases_bulk(
            RectificationCase, actor=actor, number_factory=_number_factory(), units=units, action="issue",
            token=token, **{**fields, "batch": batch})


def case_act(*, actor: Actor, case_id: int, action: str, token: str = "", **params) -> RectificationCase:
    """Take one action (a state-machine transition) on a case. A web form's one-time `token`
    is claimed in the same transaction (see workflow.tokens)."""
    return engine.perform(RectificationCase, case_id, action, actor=actor, token=token, **params)


def case_add_evidence(*, actor: Actor, case_id: int, upload, note: str = ""):
    return attach_evidence(RectificationCase, case_id, actor=actor, upload=upload, note=note)


def case_comment(*, actor: Actor, case_id: int, body: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise ActionError(_("The comment is empty."))
    if len(body) > 5000:
        raise ActionError(_("The comment is too long (at most 5,000 characters)."))
    with engine.locked_case(RectificationCase, case_id, actor=actor, action="comment") as case:
        if not case.is_open:
            raise engine.AlreadyHandled(_("The case is closed; comments can no longer be added."))
        comment = Comment.objects.create(case=case, author=actor.user, body=body)
        audit.record(action="comment", user=actor.user, case=case, ip=actor.ip,
                     from_state=case.status, to_state=case.status, data={"comment": comment.pk})
    return comment
