"""Binding a case model to its declaration (see workflow.declaration).

``class XCase(Case, case_type=X)`` calls ``bind`` while the class is being built, before
Django's ``class_prepared``: each declared action becomes a django-fsm-2 transition on the
model method of its name, and each side request gets its three methods. django-fsm-2 then
collects them as if they had been decorated by hand.
"""
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import transition

from workflow.kernel.calendar import WorkCalendar
from workflow.kernel.declaration import CaseType, GoTo, NewDeadline, SideRequest
from workflow.kernel.errors import ActionError, AlreadyHandled, Change
from workflow.kernel.limits import MONEY_DIGITS, MONEY_PLACES


# Names a case type may not take: the platform's own URL prefixes and its flows' own nodes.
RESERVED_KEYS = frozenset({"admin", "api", "i18n", "accounts", "inbox", "notifications", "red-list", "evidence",
                           "documents", "static"})
RESERVED_NODES = frozenset({"start", "end", "approve_request"})


def bind(model, spec: type[CaseType]):
    """Turn `spec`'s actions and side requests into transitions on `model`; check them."""
    spec.prepare()
    _check(model, spec)
    model.spec = spec
    by_name: dict[str, list] = {}
    for action in spec.actions:
        by_name.setdefault(action.name, []).append(action)
    for name, declared in by_name.items():
        method = model.__dict__[name]
        for action in declared:
            unavailable = " ".join(str(c.unavailable) for c in action.when if c.unavailable)
            method = transition(field="status", source=_sources(action.source), target=action.target,
                                permission=action.who, conditions=list(action.when),
                                custom={"unavailable": unavailable} if unavailable else None)(method)
        setattr(model, name, method)
    for req in spec.requests:
        for name, method in _request_methods(req).items():
            setattr(model, name, method)


def _sources(source):
    return list(source) if isinstance(source, tuple | list) else source


def _check(model, spec):
    """A declaration that cannot run fails when the model is built, not when a user acts."""
    states = {s.name for s in spec.states}
    problems = []
    if spec.initial not in states:
        problems.append(f"initial state {spec.initial!r} is not declared")
    leave = set()
    for action in spec.actions:
        if not callable(model.__dict__.get(action.name)):
            problems.append(f"action {action.name!r} has no method on {model.__name__}")
        sources = action.source if isinstance(action.source, tuple) else (action.source,)
        for state in (*sources, action.target):
            if state not in (None, "*") and state not in states:
                problems.append(f"action {action.name!r} names an unknown state {state!r}")
        leave.update(sources)
    actions = {action.name for action in spec.actions}
    if spec.create is not None and spec.create.then and spec.create.then not in actions:
        problems.append(f"creation is followed by {spec.create.then!r}, which is no action")
    if spec.key in RESERVED_KEYS:
        problems.append(f"the key {spec.key!r} is taken by the platform's own pages")
    for state in spec.states:
        for task in state.waits:
            if task.node in RESERVED_NODES:
                problems.append(f"the task node {task.node!r} is the platform's own")
    from workflow.models.cases import CaseRequest

    kind_max = CaseRequest._meta.get_field("kind").max_length
    for req in spec.requests:
        if len(req.kind) > kind_max:
            problems.append(f"request kind {req.kind!r} is longer than {kind_max} characters")
        if not any(f.name == "reason" and f.required for f in req.ask.fields) or \
                not any(f.name == "reason" and f.required for f in req.reject.fields):
            problems.append(f"request {req.kind!r} must ask for a required reason to ask and to reject")
        if isinstance(req.grant, NewDeadline) and not any(f.name == req.grant.field for f in req.ask.fields):
            problems.append(f"request {req.kind!r} grants a new deadline but does not ask for {req.grant.field!r}")
        if isinstance(req.grant, GoTo) and req.grant.state not in states:
            problems.append(f"request {req.kind!r} goes to an unknown state {req.grant.state!r}")
        if not req.chain:
            problems.append(f"request {req.kind!r} has no approval chain")
    for state in spec.states:
        if not state.end and state.name not in leave and "*" not in leave:
            problems.append(f"open state {state.name!r} has no action leaving it")
    if problems:
        raise ImproperlyConfigured(f"case type {spec.key!r}: " + "; ".join(problems))


# Side requests ------------------------------------------------------------------------------------


def _request_methods(req: SideRequest) -> dict:
    """request_<kind>, approve_<kind> and reject_<kind> for one declared side request."""
    from workflow.models.cases import CaseRequest

    kind = req.kind
    sources = None if req.source == "*" else set(req.source if isinstance(req.source, tuple) else (req.source,))

    def may_ask(case) -> bool:
        return ((sources is None or case.status in sources) and all(c(case) for c in req.when)
                and case.pending_request(kind) is None)

    def asker(case, user) -> bool:
        return case.is_open and req.asked_by(case, user)

    def pending(case) -> bool:
        return case.pending_request(kind) is not None

    def waits_for_user(case, user) -> bool:
        request = case.pending_request(kind)
        step = case.request_step(request) if request else None
        return case.is_open and step is not None and step(case, user)

    def ask(self, *, actor, reason: str = "", **params):
        if not reason.strip():
            raise ActionError(_("Please give the reason."))
        values, data = {}, {}
        if isinstance(req.grant, NewDeadline):
            new_deadline = params.get(req.grant.field)
            if new_deadline is None:
                raise ActionError(_("Please choose the new deadline."))
            if self.deadline and new_deadline <= self.deadline:
                raise ActionError(_("The new deadline must be later than the current one."))
            values["new_deadline"] = new_deadline
            data["new_deadline"] = new_deadline.isoformat()
        self.forget_pending()
        self.open_requests += 1
        CaseRequest.objects.create(case=self, kind=kind, chain=[at.role for at in req.chain],
                                   requested_by=actor.user, reason=reason, **values)
        return Change(reason=reason, data=data)

    def approve(self, *, actor, reason: str = "", **_kw):
        request = decide(self, kind, actor, True, reason)
        data = {"step": request.step, "status": request.status}
        if request.status == CaseRequest.Status.GRANTED and isinstance(req.grant, NewDeadline):
            # the event keeps the deadline it replaced beside the new one: the page shows both
            data["old_deadline"] = self.deadline.isoformat() if self.deadline else None
            data["new_deadline"] = request.new_deadline.isoformat()
            self.deadline = request.new_deadline
            calendar = WorkCalendar()
            calendar.is_workday(self.deadline)  # notes a year without holiday data
            self.calendar_warning = ",".join(str(y) for y in sorted(calendar.missing_years))
        return Change(reason=reason, data=data)

    def reject(self, *, actor, reason: str = "", **_kw):
        request = decide(self, kind, actor, False, reason)
        return Change(reason=reason, data={"status": request.status})

    target = req.grant.state if isinstance(req.grant, GoTo) else None
    methods = {
        req.ask_name: transition(field="status", source="*", target=None, conditions=[may_ask],
                                 permission=asker, custom={"unavailable": req.unavailable})(_named(ask, req.ask_name)),
        req.approve_name: transition(field="status", source="*", target=target, conditions=[pending],
                                     permission=waits_for_user)(_named(approve, req.approve_name)),
        req.reject_name: transition(field="status", source="*", target=None, conditions=[pending],
                                    permission=waits_for_user)(_named(reject, req.reject_name)),
    }
    return methods


def clean_params(verb, params: dict) -> dict:
    """An action's parameters checked against its declared fields, whoever calls (a page, the
    API, a service): no undeclared parameter, required ones present, texts trimmed and within
    their length, numbers within their bounds. The forms and serializers check the same
    declarations first, with field-by-field messages."""
    declared = {field.name: field for field in verb.fields}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ActionError(_("This action takes no “%(name)s”.") % {"name": unknown[0]})
    cleaned = {}
    for name, field in declared.items():
        value = params.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if field.required:
                raise ActionError(str(field.missing) if field.missing
                                  else _("Please fill in “%(field)s”.") % {"field": field.label})
            continue
        if field.kind in ("text", "long") and len(value) > field.max_length:
            raise ActionError(_("“%(field)s” is too long (at most %(n)d characters).")
                              % {"field": field.label, "n": field.max_length})
        if field.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ActionError(_("“%(field)s” must be a whole number.") % {"field": field.label})
            if not field.min_value <= value <= field.max_value:
                raise ActionError(_("%(field)s must be between %(min)d and %(max)d.")
                                  % {"field": field.label, "min": field.min_value, "max": field.max_value})
        if field.kind == "money":
            value = _money(field, value)
        cleaned[name] = value
    return cleaned


def _money(field, value) -> Decimal:
    """An amount in yuan: a Decimal (or its text) with at most two places, not negative."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value)) if not isinstance(value, (bool, float)) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -MONEY_PLACES \
            or amount >= Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES):
        raise ActionError(_("“%(field)s” must be an amount in yuan, with at most two decimal places.")
                          % {"field": field.label})
    return amount.quantize(Decimal("0.01"))


def _named(func, name):
    func.__name__ = func.__qualname__ = name
    return func


def decide(case, kind: str, actor, approve: bool, reason: str):
    """Move a pending request one step on, or end it; raises AlreadyHandled if it no longer
    waits for this user's role."""
    from workflow.models.cases import CaseRequest

    request = case.pending_request(kind)
    case.forget_pending()
    if request is None or request.waiting_role != actor.user.role:
        raise AlreadyHandled(_("This request has already been decided."))
    if not approve and not reason.strip():
        raise ActionError(_("Please give the reason for rejecting."))
    if approve and request.step + 1 < len(request.chain):
        request.step += 1
        request.save(update_fields=["step"])
    else:
        request.status = CaseRequest.Status.GRANTED if approve else CaseRequest.Status.REJECTED
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        case.open_requests = max(0, case.open_requests - 1)
    return request
