"""Running a state change: one transaction for state, tasks, audit event and outbox rows."""
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import has_transition_perm
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

from workflow.trail import audit, notify
from workflow.documents import archive as documents
from workflow.cases import escalation
from workflow.storage import sql
from workflow.kernel import tokens
from workflow.kernel.errors import ActionError, AlreadyHandled, AlreadySubmitted, Change  # noqa: F401 - re-exported
from workflow.kernel.binding import clean_params
from workflow.kernel.declaration import NAMED_ROLE
from workflow.cases.flows import pending_requests
from workflow.storage.locking import load_locked
from workflow.models import Case, CaseParty, Unit, User
from workflow.models.cases import Phase


@dataclass
class Actor:
    user: User
    ip: str | None = None


class NotVisible(Http404):
    """The case does not exist for this user. Audited as a denied access after rollback."""

    def __init__(self, actor: Actor, *, action: str, target: str, object_id):
        super().__init__(_("No such case, or you may not see it."))
        self.audit = dict(action="access_denied", user=actor.user, outcome="denied", ip=actor.ip,
                          data={"target": target, "id": str(object_id), "attempted": action})


class Denied(PermissionDenied):
    """The user's role may not take this action. Audited after rollback."""

    def __init__(self, actor: Actor, *, action: str, case):
        super().__init__(_("Your role may not take this action on this case."))
        self.audit = dict(action=action, user=actor.user, case=case, outcome="denied",
                          from_state=case.status, ip=actor.ip)


def claim_token(actor: Actor, token: str):
    """Claim a form's one-time token in the caller's transaction (see workflow.tokens);
    AlreadySubmitted if that form was sent before."""
    if token and not tokens.claim(actor.user, token):
        raise AlreadySubmitted(_("This form was already submitted; the result is shown below."))


def start_case(model, *, actor: Actor, number_factory, then: str | None = None, token: str = "", co_units=(),
               **fields):
    """Create a case in its initial state with its viewflow process, audit chain and event.

    With `then`, that transition follows in the same transaction (e.g. "issue"), and the
    initial state's tasks are never opened. A form's one-time `token` is claimed first.
    `co_units` are the case's co-units beside its (lead) unit, for a type that has them.
    """
    flow_class = model.flow_class
    with transaction.atomic():
        claim_token(actor, token)
        process = Process.objects.create(flow_class=flow_class, status=PROCESS.NEW)
        case = model(process=process, created_by=actor.user, number=number_factory(process.pk), **fields)
        case.save(force_insert=tuple(model._meta.parents) or True)  # the base row too: no UPDATE tried first
        data = {"unit": case.unit_id}
        if co_units:
            CaseParty.objects.bulk_create([CaseParty(case=case, unit=unit) for unit in co_units])
            data["co_units"] = [unit.pk for unit in co_units]
        event = audit.record(action="create", user=actor.user, case=case, to_state=case.status, ip=actor.ip,
                             locked=True,  # a row no one else can see yet
                             data=data)
        if then:
            return perform(model, case.pk, then, actor=actor, _waited=set())
        _sync_tasks(case, actor, event, waited=set())
    return case


def start_cases_bulk(model, *, actor: Actor, number_factory, units, action: str, token: str = "", **fields) -> list:
    """Create one case per unit and run `action` on each, as start_case(then=action) would,
    writing each kind of row with bulk statements (pipelined on PostgreSQL): processes,
    cases, audit events, tasks and outbox rows. The rows and events are the same as those
    of the one-by-one path."""
    flow = model.flow_class.instance
    now = timezone.now()
    with transaction.atomic():
        claim_token(actor, token)
        with sql.pipelined():
            processes = Process.objects.bulk_create(
                [Process(flow_class=model.flow_class, status=PROCESS.NEW, created=now) for _ in units])
            cases = [model(process=p, created_by=actor.user, number=number_factory(p.pk), unit=unit,
                           created_at=now, updated_at=now, **fields) for p, unit in zip(processes, units)]
            events, rung_on = [], {}
            for case in cases:
                setattr(case, model._meta.pk.attname, case.process_id)  # a child row shares the base row's key
                events.append(audit.event_for(action="create", user=actor.user, case=case, to_state=case.status,
                                              ip=actor.ip, data={"unit": case.unit_id}))
                from_state, method = case.status, getattr(case, action)
                if not has_transition_perm(method, actor.user):
                    raise PermissionDenied(_("Your role may not take this action on this case."))
                change = method(actor=actor) or Change()
                _settle(case, now)
                ladder = (case.status, case.deadline, case.rung)  # the same for most cases sent at once
                if ladder not in rung_on:
                    rung_on[ladder] = escalation.next_rung_on(case)
                case.next_rung_on = rung_on[ladder]
                events.append(audit.event_for(action=action, user=actor.user, case=case, from_state=from_state,
                                              to_state=case.status, reason=change.reason, ip=actor.ip,
                                              data=change.data))
            audit.start_chains(events, cases)
            bulk_insert_cases(model, cases)
            waits = [(n, case, w) for n, case in enumerate(cases) for w in flow.waits(case)]
            sql.insert([_new_task(flow, case, w, now) for _n, case, w in waits])
            notify.queue_many([(case, [(w.role, w.unit_id)], audit.event_key(events[2 * n + 1]),
                                event_subject(case, events[2 * n + 1])) for n, case, w in waits], actor=actor.user)
            documents.queue_archives(cases)
        return cases


def bulk_insert_cases(model, cases):
    """Insert new cases of a multi-table case model: the base rows, then the type's own."""
    for owner in [*model._meta.get_parent_list()[::-1], model]:
        sql.insert(cases, model=owner)


@contextmanager
def locked_case(model, case_id, *, actor: Actor, action: str, token: str = ""):
    """Load the case with its process row locked (see workflow.locking), scoped to the user.

    Everything inside runs in one transaction, pipelined on PostgreSQL (see workflow.sql).
    A case the user may not see is a 404 with a denied-access audit event. A form's
    one-time `token` is claimed first, in the same transaction (see workflow.tokens).
    """
    try:
        with transaction.atomic():
            claim_token(actor, token)  # before the pipeline starts, so that a taken token is known at once
            with sql.pipelined():
                case = load_locked(model, case_id, "unit")
                if case is None or not case.seen_by(actor.user):
                    raise NotVisible(actor, action=action, target="case", object_id=case_id)
                yield case
    except (NotVisible, Denied) as exc:
        audit.record(**exc.audit)  # the transaction above rolled back; the refusal stays on record
        raise
    except IntegrityError as exc:
        # Past the lock, a concurrent writer shows up as a duplicate in the case's audit chain.
        if "audit_chain_seq" not in str(exc):
            raise
        raise AlreadyHandled(_("This case has already been handled by someone else."))


def perform(model, case_id, action: str, *, actor: Actor, token: str = "", _waited: set | None = None, **params):
    """Run the FSM transition `action` on a case: state, tasks, audit event, outbox rows and
    the documents archived in the new state, in one transaction.

    Raises Http404 for a case the user may not see, PermissionDenied for an action the
    user's role may not take, AlreadyHandled when the state no longer allows it,
    AlreadySubmitted when the form's one-time `token` was used before.
    """
    with locked_case(model, case_id, actor=actor, action=action, token=token) as case:
        method = getattr(case, action, None)
        if method is None or not hasattr(method, "_django_fsm"):
            raise ActionError(_("Unknown action."))
        if not case.is_open:
            raise _already_handled(case)
        # On an open case the role is checked before the state: a wrong role gets 403, not 409.
        meta = method._django_fsm
        current = meta.get_transition(case.status)
        candidates = [current] if current is not None else meta.transitions.values()
        if not any(t.has_perm(case, actor.user) for t in candidates):
            raise Denied(actor, action=action, case=case)
        if current is None:
            raise _already_handled(case)
        if not meta.conditions_met(case, case.status):
            raise AlreadyHandled(str(current.custom.get("unavailable", _("This request has already been decided."))))
        flow = case.flow_class.instance
        from_state, ladder_before, unit_before = case.status, (case.deadline, escalation.in_ladder(case)), case.unit
        waited = flow.waits(case, pending_requests(case)) if _waited is None else _waited
        fields = [f for f in case._meta.concrete_fields if not f.primary_key]
        before = {f.attname: getattr(case, f.attname) for f in fields}
        verb = case.spec.verbs.get(action)
        change = method(actor=actor, **(clean_params(verb, params) if verb is not None else params)) or Change()
        _settle(case, timezone.now())
        if case.parent_id and case.deadline != before["deadline"]:
            check_within_parent(case)
        if (case.deadline, escalation.in_ladder(case)) != ladder_before:
            # A new deadline (issue, granted extension) restarts the count; leaving the
            # unit's hands or closing stops the ladder.
            case.next_rung_on = escalation.next_rung_on(case)
        event = audit.record(action=action, user=actor.user, case=case, from_state=from_state, defer_head=True,
                             to_state=case.status, reason=change.reason, ip=actor.ip, data=change.data)
        # Only the columns that changed (the audit head among them), so a transition touching
        # the base table alone does not rewrite the case type's table too. The row lock
        # taken by locked_case makes an optimistic check on the old state unnecessary.
        sql.update(case, [f.attname for f in fields if getattr(case, f.attname) != before[f.attname]])
        _sync_tasks(case, actor, event, waited=waited)
        if case.status != from_state:
            documents.queue_archives([case])
        if case.rung and (not case.is_open or case.unit_id != unit_before.pk):
            escalation.shift_count(unit_before, case.rung, 0)  # closed or moved: off this unit's count
            if case.is_open:
                escalation.shift_count(case.unit, 0, case.rung)
        if not case.is_open:
            case.process.status = PROCESS.CANCELED if case.phase == Phase.CANCELLED else PROCESS.DONE
            case.process.finished = case.updated_at
            sql.update(case.process, ["status", "finished"])
    return case


def check_within_parent(case, parent_deadline=None):
    """A child case is never due after its parent (read when not given)."""
    if not case.parent_id or case.deadline is None:
        return
    if parent_deadline is None:
        parent_deadline = Case.objects.filter(pk=case.parent_id).values_list("deadline", flat=True).first()
    if parent_deadline is not None and case.deadline > parent_deadline:
        raise ActionError(_("The deadline %(deadline)s would pass that of the case it belongs to (%(parent)s).")
                          % {"deadline": case.deadline.isoformat(), "parent": parent_deadline.isoformat()})


def _settle(case, now):
    """What follows from the new state whatever the case type: its phase; and a case that
    ends is closed now and leaves no side request waiting."""
    case.updated_at = now
    case.phase = case.spec.phase_of(case.status)
    if not case.is_open:
        case.closed_at = case.closed_at or now
        case.close_pending_requests()


def _already_handled(case) -> AlreadyHandled:
    return AlreadyHandled(_("This case has already been handled; it is now “%(state)s”.")
                          % {"state": case.get_status_display()})


def available_actions(case, user) -> list[str]:
    """Names of the transitions this user may take on this case now."""
    if not case.is_open:
        return []
    return [t.name for t in case.get_available_user_status_transitions(user)]


def _unit_content_type():
    return ContentType.objects.get_for_model(Unit)


def _close_tasks(case, flow, waits, status, owner_id, now):
    """Close the case's open tasks for these waits, in one UPDATE."""
    conn = transaction.get_connection()
    flow_task = Task._meta.get_field("flow_task")
    keys = [(flow_task.get_db_prep_save(flow.node(w.node), conn), w.role, str(w.unit_id)) for w in sorted(
        waits, key=lambda w: (w.node, w.role, w.unit_id))]
    sql.execute(close_tasks_sql(conn.vendor, len(keys)),
                [case.pk, status, owner_id, conn.ops.adapt_datetimefield_value(now)] + [v for key in keys for v in key])


@lru_cache(maxsize=None)
def close_tasks_sql(vendor: str, waits: int) -> str:
    """The UPDATE that closes a process's open tasks matching `waits` (flow task, role, unit)
    keys. Parameters: process id, new status, owner id, finished, then the keys.

    The process's open tasks are read first, fenced off in a materialised CTE, so the plan
    always starts from the process (the partial index of open tasks; the open states are
    literals for the prepared plan's sake) and never from the inbox index, which the planner
    may think selective for a unit that in fact holds thousands of open tasks."""
    table = connections[DEFAULT_DB_ALIAS].ops.quote_name(Task._meta.db_table)
    fence = "MATERIALIZED " if vendor == "postgresql" else ""
    return (f"WITH open_tasks AS {fence}(SELECT id, flow_task, owner_permission, owner_permission_obj_pk "
            f"FROM {table} WHERE process_id = %s AND status IN ('{STATUS.NEW.value}', '{STATUS.ASSIGNED.value}')) "
            f"UPDATE {table} SET status = %s, owner_id = %s, finished = %s WHERE id IN (SELECT id FROM open_tasks "
            "WHERE (flow_task, owner_permission, owner_permission_obj_pk) IN ("
            + ", ".join(["(%s, %s, %s)"] * waits) + "))")


def _sync_tasks(case, actor: Actor, event, waited: set):
    """Close the viewflow tasks the new state no longer awaits and open the new ones.

    `waited` is what the state before the change awaited; the tasks follow from the
    state, so they are diffed rather than read back.
    """
    flow = case.flow_class.instance
    expected = flow.waits(case, pending_requests(case))
    removed, added = waited - expected, expected - waited
    now = timezone.now()
    user = actor.user
    done = {w for w in removed if w.held_by(user)}
    if done:
        _close_tasks(case, flow, done, STATUS.DONE, user.pk, now)
    if removed - done:
        _close_tasks(case, flow, removed - done, STATUS.CANCELED, None, now)
    if not added:
        return
    sql.insert([_new_task(flow, case, w, now) for w in added])
    notify.queue(case=case, who=[(w.role, w.unit_id) for w in added], key=audit.event_key(event),
                 subject=event_subject(case, event), actor=user)


def _new_task(flow, case, wait, now) -> Task:
    """An open viewflow task for the holders of `wait.role` in unit `wait.unit_id` (or owned
    by the one person a named wait names)."""
    return Task(process_id=case.pk, flow_task=flow.node(wait.node), flow_task_type="HUMAN", status=STATUS.NEW,
                created=now, owner_permission=wait.role, owner_permission_content_type=_unit_content_type(),
                owner_permission_obj_pk=str(wait.unit_id), owner_id=wait.unit_id if wait.role == NAMED_ROLE else None)


# How much of a reason and a title a notification quotes: enough to know what happened and
# to which case (an SMS stays short); the case page has the rest.
REASON_QUOTED, TITLE_QUOTED = 60, 60


def event_subject(case, event) -> dict:
    """What those a case now waits for are told: the event as the case type labels it, its
    reason when it has one, and the case's number and title, e.g. "退回继续整改：照片不清晰
    （整改〔2026〕17号 消防通道堆放杂物）"."""
    params = {"event": case.spec.event_label(event.action), "number": case.number,
              "title": shorten(case.title, TITLE_QUOTED)}
    reason = shorten(event.reason, REASON_QUOTED)
    if reason:
        return notify.message(gettext_noop("%(event)s: %(reason)s (%(number)s %(title)s)"), reason=reason, **params)
    return notify.message(gettext_noop("%(event)s (%(number)s %(title)s)"), **params)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
