"""Reads shared by every case type, always scoped by the user's unit: the inbox, case lists and pages, timelines."""
import datetime

from django.db.models import F, Prefetch, Q
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from workflow.kernel.declaration import NAMED_ROLE
from workflow.kernel.registry import model_for
from workflow.models import AuditEvent, CaseRequest, Comment, Evidence, Role, Rung, Unit
from workflow.models.units import unit_scope


def inbox_todo(user):
    """Open tasks waiting for the user's role in the user's unit, and those that name the
    user (待办). Both are read through the inbox index."""
    if not user.is_authenticated or user.unit_id is None:
        return Task.objects.none()
    mine = (Q(owner_permission=user.role, owner_permission_obj_pk=str(user.unit_id))
            | Q(owner_permission=NAMED_ROLE, owner_permission_obj_pk=str(user.pk)))
    return Task.objects.filter(mine, status__in=[STATUS.NEW, STATUS.ASSIGNED]).order_by("created")


def inbox_done(user):
    """Tasks the user completed (已办), newest first, on cases within what the user may see
    now: after a move to another unit, the old unit's cases are no longer listed."""
    scope = unit_scope(user, via="process__case__unit__")
    if scope is None:
        return Task.objects.none()
    return (Task.objects.filter(scope, owner=user, status=STATUS.DONE)
            .order_by("-finished"))


def last_changes(case_ids) -> dict[int, tuple[str, str]]:
    """The last change of state of each case: (action, reason), what put its task in an inbox.
    One query over the audit trail's (case, seq) index, for a page of cases."""
    rows = (AuditEvent.objects.filter(case_id__in=case_ids, outcome=AuditEvent.Outcome.OK)
            .exclude(to_state=F("from_state")).order_by("case_id", "seq").values_list("case_id", "action", "reason"))
    return {case_id: (action, reason) for case_id, action, reason in rows}


def case_timeline(case):
    return AuditEvent.objects.filter(case_id=case.pk, outcome=AuditEvent.Outcome.OK).order_by("seq")


def case_list(model, user, *, status="", unit=None, under=None, overdue=False, date_from=None, date_to=None, q="",
              **choices):
    """Cases of one type the user may see, filtered; `choices` are the type's declared choice
    filters (``list_filters``), by model field. ``under`` (a case the caller has found visible
    to the user) keeps the cases below it: those it is the parent or the top case of."""
    cases = model.objects.visible_to(user).select_related("unit")
    if status:
        cases = cases.filter(status=status)
    if unit is not None:
        cases = cases.filter(unit__path__startswith=unit.path)
    if under is not None:
        cases = cases.filter(Q(root_id=under.pk) | Q(parent_id=under.pk))
    if overdue:
        cases = cases.overdue(timezone.localdate())
    for name in model.spec.list_filters:
        if choices.get(name):
            cases = cases.filter(**{name: choices[name]})
    if date_from:
        cases = cases.filter(created_at__date__gte=date_from)
    if date_to:
        cases = cases.filter(created_at__date__lte=date_to)
    if q:
        cases = cases.filter(Q(title__icontains=q) | Q(number__icontains=q))
    return cases.order_by("-created_at")


def with_own_number(case):
    """A case read through the base model, read again through its type's own model when the
    type declares a number of its own (``number_field``); otherwise the case itself, with no
    query."""
    model = model_for(case.case_type)
    if model is None or isinstance(case, model) or not model.spec.number_field:
        return case
    return model.objects.select_related("unit").filter(pk=case.pk).first() or case


def case_detail(model, user, pk):
    """One case of the type with its evidence and thread, or None if the user may not see it."""
    return (model.objects.visible_to(user).select_related("unit", "supervisor_unit", "created_by")
            .prefetch_related(Prefetch("evidence", Evidence.objects.select_related("uploaded_by")),
                              Prefetch("comments", Comment.objects.select_related("author")),
                              *model.spec.prefetch)
            .filter(pk=pk).first())


def target_units(user):
    """Units the user may send cases to: below the user's own unit."""
    if user.unit_id is None:
        return Unit.objects.none()
    return Unit.objects.filter(path__startswith=user.unit.path).exclude(pk=user.unit_id)


# The case page: what stands at its top, and its side requests ----------------------------------


def _day(value):
    """A date an audit event keeps as ISO text, or None when absent or unreadable."""
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def read_events(events, spec):
    """Label each timeline event for the page: the action's label, the label its reason was
    asked under (e.g. "Reasons for returning"), and the deadlines it carries (a request's
    asked-for date; a granted one's old and new deadline)."""
    for event in events:
        event.label = spec.event_label(event.action)
        if event.action == "escalate":
            event.label = Rung(event.data.get("rung", 1)).label
        verb = spec.verbs.get(event.action)
        field = next((f for f in verb.fields if f.name == "reason"), None) if verb else None
        event.reason_label = field.label if field else ""
        event.style = verb.style if verb else ""
        data = event.data if isinstance(event.data, dict) else {}
        event.old_deadline = _day(data.get("old_deadline"))
        event.new_deadline = _day(data.get("new_deadline"))
    return events


def latest_reasons(events, spec):
    """What stands at the top of the case page: the latest action that carried a reason (a
    return, a refusal, a request, an approver's opinion) and, before it, the latest reason or
    opinion someone else gave. Only the type's actions count; comments and uploads have
    their own places. `events` is the labelled timeline, oldest first."""
    reasoned = [e for e in events if e.action in spec.verbs and (e.reason or "").strip()]
    if not reasoned:
        return []
    latest = reasoned[-1]
    previous = next((e for e in reversed(reasoned[:-1]) if e.actor_id != latest.actor_id), None)
    return [latest, previous] if previous else [latest]


def latest_extension(events):
    """The latest event that moved the deadline through a granted request, or None."""
    return next((e for e in reversed(events) if e.new_deadline and e.old_deadline), None)


def pending_requests(case):
    """The case's pending side requests, each with its stages along the declared chain:
    ``stages`` is [(role label, "done" | "now" | "next")] and ``waiting_label`` the label of
    the role whose approval it waits for."""
    def label(role):
        return Role(role).label if role in Role.values else role

    requests = list(CaseRequest.objects.filter(case_id=case.pk, status=CaseRequest.Status.PENDING)
                    .select_related("requested_by").order_by("created_at"))
    for request in requests:
        request.case = case  # its kind's label reads the case's type
        request.stages = [(label(role), "done" if i < request.step else "now" if i == request.step else "next")
                          for i, role in enumerate(request.chain)]
        request.waiting_label = label(request.waiting_role) if request.waiting_role else ""
    return requests
