"""Writes every case type shares, driven by its declaration. Pages, API and tasks call these
(or a process's own service that wraps them) and nothing else."""
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from . import audit, engine
from .errors import ActionError
from .evidence import attach_evidence
from .models import Comment, Unit
from .web.forms import COMMENT_MAX


def check_opener(spec, actor):
    create = spec.create
    if create is None or actor.user.role != create.role or actor.user.unit_id is None:
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
               **fields) -> list:
    """Open the same case for each of `units`: one unit may get a draft (or, with `issue`,
    the declared first action at once); several are sent at once (`bulk`), all or none."""
    spec = model.spec
    check_opener(spec, actor)
    if not units:
        raise ActionError(_("Choose at least one unit."))
    for unit in units:
        check_target(actor, unit)
    values = {**case_fields(spec, actor, fields), **(extra or {})}
    then = spec.create.then
    if not (len(units) > 1 if bulk is None else bulk):
        case = engine.start_case(model, actor=actor, number_factory=number_factory(spec), unit=units[0],
                                 then=then if (issue and then) else None, token=token, **values)
        return [case]
    if not then:
        raise ActionError(_("Choose one unit."))
    return engine.start_cases_bulk(model, actor=actor, number_factory=number_factory(spec), units=units,
                                   action=then, token=token, **values)


def opener(model):
    """The function that opens cases of this type: the process's own, or the platform's."""
    path = model.spec.create.service if model.spec.create else ""
    return import_string(path) if path else (lambda **kw: open_cases(model, **kw))


def act(model, *, actor, case_id: int, action: str, token: str = "", **params):
    """Take one action (a state-machine transition) on a case. A web form's one-time `token`
    is claimed in the same transaction (see workflow.tokens)."""
    return engine.perform(model, case_id, action, actor=actor, token=token, **params)


def add_evidence(model, *, actor, case_id: int, upload, note: str = ""):
    return attach_evidence(model, case_id, actor=actor, upload=upload, note=note)


def comment(model, *, actor, case_id: int, body: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise ActionError(_("The comment is empty."))
    if len(body) > COMMENT_MAX:
        raise ActionError(_("The comment is too long (at most 5,000 characters)."))
    with engine.locked_case(model, case_id, actor=actor, action="comment") as case:
        if not case.is_open:
            raise engine.AlreadyHandled(_("The case is closed; comments can no longer be added."))
        posted = Comment.objects.create(case=case, author=actor.user, body=body)
        audit.record(action="comment", user=actor.user, case=case, ip=actor.ip, locked=True,
                     from_state=case.status, to_state=case.status, data={"comment": posted.pk})
    return posted


