"""The escalation ladder, generic over case types.

Rungs, in order: reminder before the deadline, yellow light when due, red light N working
days overdue, an interview proposal M days after red, an accountability proposal after that.
Each case stores the highest rung reached and the day its next rung falls due
(``next_rung_on``, indexed), so a sweep reads only the cases that are due. Each rung is
an ``Escalation`` row with a unique (case, rung) key, written under the case's row lock.
"""
import logging
from collections import defaultdict
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_noop

from workflow.trail import audit, notify
from workflow.storage import sql
from workflow.kernel import unit_settings
from workflow.kernel.calendar import WorkCalendar, shift_working_days
from workflow.models import Case, Escalation, EscalationPolicy, Proposal, Rung, RungCount, Unit
from workflow.storage.locking import load_locked
from workflow.kernel.registry import CASE_TYPES

TOP = max(Rung.values)
logger = logging.getLogger(__name__)

def forget_policies(**_kwargs):
    unit_settings.forget_settings()  # the policy rows and the ladder days of units


def policy_for(case_type: str, unit=None, on: date | None = None) -> EscalationPolicy:
    """The ladder days of `case_type`: under `unit` (a case's supervising unit), the nearest
    `ladder.<case_type>` unit setting in force `on` (today by default); else the case type's
    policy row, else the defaults. Rows and settings are kept in memory for a minute, so a
    sweep costs one lookup per supervising unit and case type, not one per case."""
    policy = unit_settings.policy_row(case_type)
    if unit is None or unit_settings.declared(f"ladder.{case_type}") is None:
        return policy
    days = unit_settings.setting(unit, f"ladder.{case_type}", on)
    return policy if days.unit is None else EscalationPolicy(case_type=case_type, **days.value)


def case_policy(case: Case, on: date | None = None) -> EscalationPolicy:
    """The ladder days of a case: those of its supervising unit."""
    return policy_for(case.case_type, supervising_unit(case), on)


def supervising_unit(case: Case):
    """The case's supervising unit with its tree path, from what the loaded case holds: the unit
    itself when it was loaded with the case, else the head of the responsible unit's path (a
    case is supervised from its own unit or one above it); read only when it is neither."""
    if Case.supervisor_unit.is_cached(case):
        return case.supervisor_unit
    if Case.unit.is_cached(case) and case.unit is not None:
        parts = case.unit.path.split(".")
        ids = [int(part) for part in parts if part]
        if case.supervisor_unit_id in ids:
            head = ids.index(case.supervisor_unit_id) + 1
            return Unit(pk=case.supervisor_unit_id, path="".join(f"{part}." for part in parts[:head]))
    return case.supervisor_unit


def rung_dates(deadline: date, policy: EscalationPolicy) -> dict[int, date]:
    """The day each rung falls due for a deadline, in working days."""
    calendar = WorkCalendar()
    red = shift_working_days(calendar, deadline, policy.red_after)
    interview = shift_working_days(calendar, red, policy.interview_after)
    return {
        Rung.REMINDER: shift_working_days(calendar, deadline, -policy.remind_before),
        Rung.YELLOW: deadline,
        Rung.RED: red,
        Rung.INTERVIEW: interview,
        Rung.ACCOUNTABILITY: shift_working_days(calendar, interview, policy.accountability_after),
    }


def in_ladder(case: Case) -> bool:
    """The deadline binds the unit in the case's state (its declaration says so), and a rung is left."""
    state = case.state
    return (case.deadline is not None and state is not None and state.ladder and not state.end
            and case.rung < TOP and case.declaration.ladder is not None)


def told(case: Case, rung: Rung) -> list[tuple[str, int]]:
    """(role, unit id) of everyone the case's type tells at `rung`."""
    return [(at.role, unit_id) for at in case.declaration.ladder.told.get(rung, ()) for unit_id in at.unit_ids(case)]


def next_rung_on(case: Case, policy: EscalationPolicy | None = None) -> date | None:
    """When the case's next rung falls due, or None when the ladder does not run for it."""
    if not in_ladder(case):
        return None
    return rung_dates(case.deadline, policy or case_policy(case))[case.rung + 1]


def sweep(today: date | None = None, batch: int = 500) -> int:
    """Fire every rung that has fallen due. Safe to run twice, or on two workers at once."""
    today = today or timezone.localdate()
    fired = 0
    while True:
        due = list(Case.objects.filter(next_rung_on__lte=today).order_by("next_rung_on", "pk")
                   .values_list("pk", "case_type")[:batch])
        for pk, case_type in due:
            try:
                fired += escalate_case(CASE_TYPES.get(case_type, Case), pk, today)
            except Exception:  # noqa: BLE001 - one bad case must not hold up every case after it
                logger.exception("escalation of case %s failed; it is retried tomorrow", pk)
                Case.objects.filter(pk=pk).update(next_rung_on=today + timedelta(days=1))
        if len(due) < batch:
            return fired


def escalate_case(model, pk: int, today: date, policy: EscalationPolicy | None = None) -> int:
    """Fire the due rungs of one case, in order, in one transaction under its row lock
    (pipelined like a transition, see workflow.sql), by `policy` or else its supervising
    unit's ladder days in force `today`."""
    with transaction.atomic(), sql.pipelined():
        case = load_locked(model, pk, "unit")
        if case is None or case.next_rung_on is None or case.next_rung_on > today:
            return 0  # another sweep got here first, or the case moved on
        if not in_ladder(case):
            case.next_rung_on = None
            sql.update(case, ["next_rung_on"])
            return 0
        dates = rung_dates(case.deadline, policy or case_policy(case, today))
        fired = []
        while case.rung < TOP and dates[case.rung + 1] <= today:
            case.rung += 1
            fired.append(Rung(case.rung))
        sql.insert([Escalation(case=case, rung=rung, due_on=dates[rung]) for rung in fired])
        case.next_rung_on = dates[case.rung + 1] if case.rung < TOP else None
        for rung in fired:
            _announce(case, rung)
        sql.update(case, ["rung", "next_rung_on", "audit_seq", "audit_hash"])
        if fired:
            shift_count(case.unit, fired[0] - 1, case.rung)
    return len(fired)


def _subtree_heads(unit) -> list[int]:
    """The unit and every unit above it, read from its materialised path."""
    return [int(part) for part in unit.path.split(".") if part]


def shift_count(unit, from_rung: int, to_rung: int):
    """Move one open case of `unit` from one rung to another in the subtree counts of the unit
    and its ancestors (rung 0 = not counted: a new escalation, or a case that closed)."""
    if from_rung == to_rung:
        return
    heads = _subtree_heads(unit)
    table = sql.quote(RungCount._meta.db_table)
    if to_rung:  # one statement: a missing row starts at one, an existing one counts up
        sql.execute(f"INSERT INTO {table} (unit_id, rung, open_cases) VALUES "
                    + ", ".join(["(%s, %s, 1)"] * len(heads))
                    + f" ON CONFLICT (unit_id, rung) DO UPDATE SET open_cases = {table}.open_cases + 1",
                    [v for head in heads for v in (head, to_rung)])
    if from_rung:
        listed = ", ".join(["%s"] * len(heads))
        sql.execute(f"UPDATE {table} SET open_cases = open_cases - 1 WHERE rung = %s AND unit_id IN ({listed})",
                    [from_rung, *heads])


def rebuild_counts():
    """Recount every unit's subtree from the cases (after bulk loads; the counts are kept up
    to date incrementally otherwise)."""
    totals: dict[tuple[int, int], int] = defaultdict(int)
    rows = Case.objects.open().filter(rung__gt=0).values_list("unit__path", "rung").annotate(n=Count("pk"))
    for path, rung, n in rows:
        for head in (int(part) for part in path.split(".") if part):
            totals[(head, rung)] += n
    with transaction.atomic():
        RungCount.objects.all().delete()
        RungCount.objects.bulk_create([RungCount(unit_id=u, rung=r, open_cases=n) for (u, r), n in totals.items()],
                                      batch_size=5000)


def recount_on_move(**_kwargs):
    """A unit moved with its subtree: the subtree counts above it changed."""
    rebuild_counts()


def _announce(case: Case, rung: Rung):
    proposal = case.declaration.ladder.proposals.get(rung)
    if proposal:
        Proposal.objects.get_or_create(case=case, kind=proposal, defaults={"unit": case.unit})
    audit.record(action="escalate", case=case, from_state=case.status, to_state=case.status, defer_head=True,
                 data={"rung": int(rung), "deadline": case.deadline.isoformat()})
    subject = notify.message(gettext_noop("%(rung)s: %(number)s %(title)s (%(unit)s, deadline %(deadline)s)"),
                             rung=rung.label, number=case.number, title=case.title, unit=case.unit.name,
                             deadline=case.deadline.isoformat())
    notify.queue(case=case, who=told(case, rung), subject=subject, key=f"esc:{case.pk}:{int(rung)}")
