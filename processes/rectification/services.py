"""Writes for rectification cases: the platform's (workflow.services) with the dispatch batch
that groups one problem sent to many units. Views, API, tasks and tests call these."""
from django.db import transaction
from django.utils.translation import gettext

from workflow.cases import services
from workflow.cases.engine import ActionError, Actor
from workflow.models import Comment, Unit

from .declaration import Rectification
from .models import DispatchBatch, RectificationCase

CASE_TYPE = Rectification.key


def open_cases(*, actor: Actor, units: list[Unit], issue: bool = False, token: str = "", bulk=None,
               **fields) -> list[RectificationCase]:
    """Open a case for one unit (a draft, or issued with ``issue``); several units (or any
    number, with `bulk`) are sent the same problem at once, as one dispatch batch."""
    _check_basis(fields)
    if bulk or (bulk is None and len(units) > 1):
        return case_dispatch(actor=actor, units=units, token=token, **fields)
    return services.open_cases(RectificationCase, actor=actor, units=units, issue=issue, token=token, **fields)


def case_create(*, actor: Actor, unit: Unit, issue: bool = False, token: str = "", **fields) -> RectificationCase:
    """Open a draft case for one unit; with ``issue=True`` it is issued in the same step."""
    return open_cases(actor=actor, units=[unit], issue=issue, token=token, **fields)[0]


def case_dispatch(*, actor: Actor, units: list[Unit], token: str = "", **fields) -> list[RectificationCase]:
    """Send one problem to many units at once, as one dispatch batch: each gets its own
    issued case, all or none."""
    _check_basis(fields)
    services.check_opener(Rectification, actor)
    with transaction.atomic():
        batch = DispatchBatch.objects.create(title=(fields.get("title") or "").strip()[:200], created_by=actor.user)
        return services.open_cases(RectificationCase, actor=actor, units=units, issue=True, token=token, bulk=True,
                                   extra={"batch": batch}, **fields)


def _check_basis(fields):
    """An article cites a regulation: one without the other's title is refused."""
    if str(fields.get("article") or "").strip() and not str(fields.get("regulation") or "").strip():
        raise ActionError(gettext("Name the regulation the article belongs to, or leave the article empty."))


def case_act(*, actor: Actor, case_id: int, action: str, token: str = "", **params) -> RectificationCase:
    return services.act(RectificationCase, actor=actor, case_id=case_id, action=action, token=token, **params)


def case_add_evidence(*, actor: Actor, case_id: int, upload, note: str = ""):
    return services.add_evidence(RectificationCase, actor=actor, case_id=case_id, upload=upload, note=note)


def case_comment(*, actor: Actor, case_id: int, body: str) -> Comment:
    return services.comment(RectificationCase, actor=actor, case_id=case_id, body=body)
