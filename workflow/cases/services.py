"""Writes every case type shares, driven by its declaration. Pages, API and tasks call these
(or a process's own service that wraps them) and nothing else."""
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from workflow.trail import audit
from workflow.cases import engine
from workflow.kernel.errors import ActionError
from workflow.cases.evidence import attach_evidence
from viewflow.workflow.models import Process

from workflow.models import Case, Comment, Unit
from workflow.models.cases import ENDED, Phase
from workflow.models.units import SUPERVISORY_ROLES
from workflow.kernel.limits import COMMENT_MAX


def check_opener(spec, actor):
    if not spec.opened_by(actor.user):
        create = spec.create
        raise PermissionDenied(create.denied if create and create.denied else _("Your role may not do this."))


def check_target(actor, unit: Unit):
    """Cases go to units below the opener's own."""
    if unit.pk == actor.user.unit_id or not unit.path.startswith(actor.user.unit.path):
        raise ActionError(_("Cases can only be sent to units under your own."))


def number_factory(spec):
    """Case numbers: the type's prefix, the year and the process id, as 整改〔2026〕123号."""
    year = timezone.localdate().year
    return lambda pk: f"{spec.number_prefix}〔{year}〕{pk}号"


def case_fields(spec, actor, fields: dict) -> dict:
    """The declared fields of a new case, trimmed and bounded as the forms bound them."""
    values = {"case_type": spec.key, "supervisor_unit": actor.user.unit}
    for field in spec.create.fields:
        if field.name not in fields:
            continue
        value = fields[field.name]
        if isinstance(value, str):
            value = value.strip()
        if field.kind == "int" and not (field.min_value <= int(value) <= field.max_value):
            raise ActionError(_("%(field)s must be between %(min)d and %(max)d.")
                              % {"field": field.label, "min": field.min_value, "max": field.max_value})
        values[field.name] = value
    return values


def open_cases(model, *, actor, units, issue: bool = False, token: str = "", extra=None, bulk=None,
               parent=None, co_units=(), **fields) -> list:
    """Open the same case for each of `units`: one unit may get a draft (or, with `issue`,
    the declared first action at once); several are sent at once (`bulk`), all or none.

    `parent` (a case, for a type declaring parents) puts the new cases under it; their
    deadlines may not pass the parent's. `co_units` join a single case beside its lead unit
    (for a type declaring co-units)."""
    spec = model.spec
    check_opener(spec, actor)
    if spec.create.own_unit:
        units = [actor.user.unit]
    if not units:
        raise ActionError(_("Choose at least one unit."))
    for unit in units if not spec.create.own_unit else ():
        check_target(actor, unit)
    values = {**case_fields(spec, actor, fields), **(extra or {}), **_under(spec, actor, parent)}
    co_units = _co_units(spec, actor, units, co_units)
    then = spec.create.then
    with transaction.atomic():
        if parent is not None:
            _hold_open(parent)
        if not (len(units) > 1 if bulk is None else bulk):
            cases = [engine.start_case(model, actor=actor, number_factory=number_factory(spec), unit=units[0],
                                       then=then if (issue and then) else None, token=token, co_units=co_units,
                                       **values)]
        elif not then or co_units:
            raise ActionError(_("Choose one unit."))
        else:
            cases = engine.start_cases_bulk(model, actor=actor, number_factory=number_factory(spec), units=units,
                                            action=then, token=token, **values)
        if parent is not None:
            _within_parent(parent, cases)
    return cases


def _under(spec, actor, parent) -> dict:
    """The parent and root of new cases of `spec` opened under `parent` (None: at the top)."""
    declared = spec.parent
    if parent is None:
        if declared is not None and declared.required:
            raise ActionError(_("Open this case from the case it belongs to."))
        return {}
    if declared is None or parent.case_type not in declared.types:
        raise ActionError(_("A case of this type cannot be opened under that case."))
    if not parent.seen_by(actor.user):
        raise ActionError(_("No such case, or you may not see it."))
    if not parent.is_open:
        raise ActionError(_("The case it would belong to has ended."))
    if declared.by_its_unit and actor.user.unit_id != parent.unit_id:
        raise ActionError(_("Only the unit the case is addressed to passes it down."))
    return {"parent": parent, "root_id": parent.root_id or parent.pk}


def _hold_open(parent):
    """Lock the parent as a transition does (its process row), so it cannot end while
    children are being opened under it, and check again that it has not ended."""
    locked = list(Process.objects.select_for_update().filter(pk=parent.pk).values_list("pk", flat=True))
    if not locked or Case.objects.filter(pk=parent.pk, phase__in=ENDED).exists():
        raise ActionError(_("The case it would belong to has ended."))


def _within_parent(parent, cases):
    """A child's deadline never passes its parent's (a parent without one bounds nothing)."""
    if parent.deadline is None:
        return
    for case in cases:
        engine.check_within_parent(case, parent.deadline)


def _co_units(spec, actor, units, co_units) -> list:
    co_units = list({unit.pk: unit for unit in co_units}.values())
    if not co_units:
        return []
    if spec.parties is None:
        raise ActionError(_("This kind of case has no co-units."))
    lead = {unit.pk for unit in units}
    for unit in co_units:
        check_target(actor, unit)
        if unit.pk in lead:
            raise ActionError(_("The lead unit cannot also be a co-unit."))
    return co_units


def opener(model):
    """The function that opens cases of this type: the process's own, or the platform's."""
    path = model.spec.create.service if model.spec.create else ""
    return import_string(path) if path else (lambda **kw: open_cases(model, **kw))


def act(model, *, actor, case_id: int, action: str, token: str = "", **params):
    """Take one action (a state-machine transition) on a case. A web form's one-time `token`
    is claimed in the same transaction (see workflow.tokens)."""
    return engine.perform(model, case_id, action, actor=actor, token=token, **params)


def add_evidence(model, *, actor, case_id: int, upload, note: str = "", stage: str = ""):
    return attach_evidence(model, case_id, actor=actor, upload=upload, note=note, stage=stage)


def comment(model, *, actor, case_id: int, body: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise ActionError(_("The comment is empty."))
    if len(body) > COMMENT_MAX:
        raise ActionError(_("The comment is too long (at most 5,000 characters)."))
    with engine.locked_case(model, case_id, actor=actor, action="comment") as case:
        if case.phase == Phase.DRAFT and actor.user.role not in SUPERVISORY_ROLES:
            # The unit does not see a draft addressed to it (visible_to): a 404, as for no case.
            raise engine.NotVisible(actor, action="comment", target="case", object_id=case_id)
        if not case.is_open:
            raise engine.AlreadyHandled(_("The case is closed; comments can no longer be added."))
        posted = Comment.objects.create(case=case, author=actor.user, body=body)
        audit.record(action="comment", user=actor.user, case=case, ip=actor.ip, locked=True,
                     from_state=case.status, to_state=case.status, data={"comment": posted.pk})
    return posted


