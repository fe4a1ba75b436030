"""The engine and the generic pages are generic: a ticket, a case type declared only in the tests
(tests/engine), runs through transitions, tasks, side requests, the ladder, uploads, the audit
chain, the outbox, bulk dispatch, scoping and every generic page with no code of its own."""
import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS

from tests.engine.declaration import Ticket
from tests.engine.factories import (act, add_evidence, closed_tasks, finished_ticket, open_tasks, open_ticket,
                                    reload, ticket_fields)
from tests.engine.models import TicketCase
from tests.factories import PNG_BYTES, make_unit, make_user, upload
from workflow.trail import audit, notify
from workflow.cases import engine, escalation, services
from workflow.cases.engine import AlreadyHandled, Denied, NotVisible
from workflow.kernel.errors import ActionError
from workflow.cases.evidence import EvidenceRejected
from workflow.storage.files import evidence_storage, read
from workflow.models import (AuditEvent, Case, CaseRequest, Comment, Escalation, Evidence, Notification, OutboxMessage, Proposal, Role, Rung, UnitKind)
from workflow.web.forms import ActionForm

DONE, CANCELED = "DONE", "CANCELED"


def extra(world):
    """People in the wrong place for a ticket of county A: an inspector and a leader of county A
    itself (they see its tickets, but the supervising unit is the city)."""
    world.inspector_a = make_user(Role.INSPECTOR, world.county_a)
    world.leader_a = make_user(Role.LEADER, world.county_a)
    return world


def denied_events(user, action=None, **data):
    events = AuditEvent.objects.filter(actor_id=user.pk, outcome="denied")
    if action:
        events = events.filter(action=action)
    return [e for e in events if all(e.data.get(k) == v for k, v in data.items())]


# Transitions ------------------------------------------------------------------------------------


def test_lifecycle__phase_tasks_process_status_and_closing(world):
    # given: a new ticket (a draft the unit does not see yet)
    ticket = open_ticket(world, assign=False)
    city, unit = world.city.pk, world.county_a.pk
    assert (ticket.status, ticket.phase, ticket.deadline, ticket.closed_at) == ("new", "draft", None, None)
    assert ticket.number == f"工单〔{timezone.localdate().year}〕{ticket.pk}号" and ticket.case_type == "ticket"
    assert Process.objects.get(pk=ticket.pk).flow_class == TicketCase.flow_class
    assert open_tasks(ticket) == [("triage", "inspector", city)]
    # when the inspector assigns it
    ticket = act(world, ticket, "inspector", "assign")
    # then the unit's handler works on it against a deadline, with the ladder running
    assert (ticket.status, ticket.phase) == ("assigned", "open") and ticket.issued_at is not None
    assert ticket.deadline > timezone.localdate() and ticket.next_rung_on == escalation.next_rung_on(ticket)
    assert open_tasks(ticket) == [("work", "handler", unit)]
    assert closed_tasks(ticket) == [("triage", "inspector", DONE, world.inspector.pk)]
    # when the handler uploads evidence and finishes
    add_evidence(world, ticket)
    ticket = act(world, ticket, "handler_a", "finish", reason="已更换灯泡")
    assert (ticket.status, ticket.phase, reload(ticket).next_rung_on) == ("finished", "open", None)
    assert open_tasks(ticket) == [("check", "leader", city)]
    # and the leader resolves it with a score
    ticket = act(world, ticket, "leader", "resolve", score=4)
    # then it is done: phase, score, closing time, no task left, the viewflow process finished
    stored = reload(ticket)
    assert (stored.status, stored.phase, stored.score) == ("resolved", "done", 4)
    assert stored.closed_at is not None and stored.next_rung_on is None
    process = Process.objects.get(pk=ticket.pk)
    assert process.status == PROCESS.DONE and process.finished is not None
    assert open_tasks(ticket) == []
    assert closed_tasks(ticket) == sorted([("triage", "inspector", DONE, world.inspector.pk),
                                           ("work", "handler", DONE, world.handler_a.pk),
                                           ("check", "leader", DONE, world.leader.pk)])
    assert AuditEvent.objects.get(case_id=ticket.pk, action="resolve").data == {"score": 4}
    # and an ended ticket takes no more actions
    with pytest.raises(AlreadyHandled):
        act(world, ticket, "leader", "reopen", reason="再看看")


def test_lifecycle__dropping_a_new_ticket_cancels_it(world):
    ticket = act(world, open_ticket(world, assign=False), "inspector", "drop")
    stored = reload(ticket)
    assert (stored.status, stored.phase) == ("dropped", "cancelled") and stored.closed_at is not None
    assert Process.objects.get(pk=ticket.pk).status == PROCESS.CANCELED
    assert open_tasks(ticket) == [] and closed_tasks(ticket) == [("triage", "inspector", DONE, world.inspector.pk)]


def test_lifecycle__reopen_sends_the_ticket_back_to_the_unit(world):
    # given a finished ticket
    ticket = finished_ticket(world)
    # when the leader reopens it
    ticket = act(world, ticket, "leader", "reopen", reason="路灯仍不亮")
    # then the unit works on it again, on the ladder again
    assert (ticket.status, ticket.phase, ticket.closed_at) == ("assigned", "open", None)
    assert open_tasks(ticket) == [("work", "handler", world.county_a.pk)]
    assert ("check", "leader", DONE, world.leader.pk) in closed_tasks(ticket)
    assert reload(ticket).next_rung_on == escalation.next_rung_on(ticket) is not None
    assert AuditEvent.objects.get(case_id=ticket.pk, action="reopen").reason == "路灯仍不亮"


def _new(world):
    return open_ticket(world, assign=False)


def _assigned_with_evidence(world):
    ticket = open_ticket(world)
    add_evidence(world, ticket)
    return ticket


# action -> (builder, params, the one allowed actor, {denied actor: exception})
PERMISSIONS = {
    "assign": (_new, {}, "inspector", {"inspector_a": Denied, "leader": Denied, "handler_b": NotVisible,
                                       "admin": NotVisible, "handler_a": Denied, "head_a": Denied}),
    "drop": (_new, {}, "inspector", {"inspector_a": Denied, "leader": Denied, "legal": Denied}),
    "finish": (_assigned_with_evidence, {"reason": "r"}, "handler_a",
               {"head_a": Denied, "inspector": Denied, "leader": Denied, "handler_b": NotVisible}),
    "reopen": (finished_ticket, {"reason": "r"}, "leader",
               {"leader_a": Denied, "inspector": Denied, "handler_a": Denied, "head_b": NotVisible}),
    "resolve": (finished_ticket, {"score": 5}, "leader",
                {"leader_a": Denied, "inspector": Denied, "head_a": Denied, "handler_b": NotVisible}),
}


@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_permissions__wrong_role_or_place_is_refused_and_audited(world, action):
    # given
    build, params, allowed, refused = PERMISSIONS[action]
    extra(world)
    ticket = build(world)
    before = (ticket.status, ticket.audit_seq, open_tasks(ticket))
    for name, expected in refused.items():
        user = getattr(world, name)
        # when
        with pytest.raises(expected):
            act(world, ticket, name, action, **params)
        # then nothing changed, and the refusal is on record although its transaction rolled back
        stored = reload(ticket)
        if expected is Denied:
            assert len(denied_events(user, action)) == 1
            assert AuditEvent.objects.get(actor_id=user.pk, outcome="denied").from_state == before[0]
        else:
            assert len(denied_events(user, "access_denied", id=str(ticket.pk), attempted=action)) == 1
        assert (stored.status, open_tasks(stored)) == (before[0], before[2])
    # and the allowed actor succeeds; the chain holds the denied events in order
    act(world, ticket, allowed, action, **params)
    assert audit.verify() == []


def test_transitions__a_state_that_no_longer_allows_it_is_already_handled(world):
    ticket = open_ticket(world)
    with pytest.raises(AlreadyHandled, match="Assigned|已"):
        act(world, ticket, "inspector", "assign")
    with pytest.raises(AlreadyHandled):
        act(world, ticket, "leader", "resolve", score=3)
    with pytest.raises(ActionError, match=".+"):
        act(world, ticket, "leader", "no_such_action")
    assert reload(ticket).status == "assigned"


def test_condition__finish_without_evidence_is_refused_with_its_declared_message(world):
    # given an assigned ticket with no evidence
    ticket = open_ticket(world)
    assert "finish" not in engine.available_actions(ticket, world.handler_a)
    # when / then
    with pytest.raises(AlreadyHandled) as refused:
        act(world, ticket, "handler_a", "finish", reason="done")
    assert refused.value.message == "Upload evidence first."
    assert reload(ticket).status == "assigned"
    # and with evidence the action is offered and succeeds
    add_evidence(world, ticket)
    assert "finish" in engine.available_actions(reload(ticket), world.handler_a)
    assert act(world, ticket, "handler_a", "finish", reason="done").status == "finished"


def test_int_field__the_score_is_bounded_as_declared(world):
    verb = TicketCase.spec.verbs["resolve"]
    assert [(f.name, f.min_value, f.max_value, f.default) for f in verb.fields] == [("score", 1, 5, 3)]
    for score, valid in ((0, False), (1, True), (5, True), (6, False), ("x", False)):
        assert ActionForm({"score": score}, verb=verb).is_valid() is valid, score
    assert ActionForm(verb=verb).fields["score"].initial == 3


# Side requests ---------------------------------------------------------------------------------


def test_more_time__unit_head_then_leader_grant_a_new_deadline_and_move_the_ladder(world):
    # given an assigned ticket already at its yellow light
    ticket = open_ticket(world)
    old = ticket.deadline
    escalation.sweep(today=old)
    ticket = reload(ticket)
    assert ticket.rung == Rung.YELLOW
    new = old + timedelta(days=21)
    # when the handler asks for more time
    with pytest.raises(ActionError):
        act(world, ticket, "handler_a", "request_more_time", reason=" ", new_deadline=new)
    with pytest.raises(ActionError):
        act(world, ticket, "handler_a", "request_more_time", reason="r", new_deadline=old)
    ticket = act(world, ticket, "handler_a", "request_more_time", reason="灯具需定制", new_deadline=new)
    request = CaseRequest.objects.get(case_id=ticket.pk)
    assert (request.kind, request.status, request.chain, request.step) == ("more_time", "pending",
                                                                           ["unit_head", "leader"], 0)
    assert open_tasks(ticket) == sorted([("work", "handler", world.county_a.pk),
                                         ("approve_request", "unit_head", world.county_a.pk)])
    # then asking twice while one is pending is refused
    with pytest.raises(AlreadyHandled):
        act(world, ticket, "handler_a", "request_more_time", reason="again", new_deadline=new + timedelta(days=1))
    # and the leader may not approve before the unit head (nor anyone else but the step's role)
    for name in ("leader", "inspector", "handler_a"):
        with pytest.raises(Denied):
            act(world, ticket, name, "approve_more_time")
    # when the unit head approves, the request goes up to the leader
    ticket = act(world, ticket, "head_a", "approve_more_time")
    assert CaseRequest.objects.get(pk=request.pk).step == 1 and reload(ticket).deadline == old
    assert ("approve_request", "leader", world.city.pk) in open_tasks(ticket)
    assert ("approve_request", "unit_head", DONE, world.head_a.pk) in closed_tasks(ticket)
    with pytest.raises(Denied):
        act(world, ticket, "head_a", "approve_more_time")
    # and when the leader approves, the new deadline is granted and the ladder counts from it
    ticket = act(world, ticket, "leader", "approve_more_time")
    stored = reload(ticket)
    assert stored.deadline == new and stored.open_requests == 0
    assert CaseRequest.objects.get(pk=request.pk).status == "granted"
    assert stored.next_rung_on == escalation.rung_dates(new, escalation.policy_for("ticket"))[Rung.RED]
    assert open_tasks(ticket) == [("work", "handler", world.county_a.pk)]
    assert [e.data for e in AuditEvent.objects.filter(case_id=ticket.pk, action="approve_more_time", outcome="ok")
            .order_by("seq")] == [{"step": 1, "status": "pending"},
                                  {"step": 1, "status": "granted", "old_deadline": old.isoformat(),
                                   "new_deadline": new.isoformat()}]


def test_more_time__rejected_keeps_the_deadline_and_may_be_asked_again(world):
    ticket = open_ticket(world)
    old = ticket.deadline
    act(world, ticket, "handler_a", "request_more_time", reason="r", new_deadline=old + timedelta(days=9))
    with pytest.raises(ActionError):
        act(world, ticket, "head_a", "reject_more_time", reason="")
    act(world, ticket, "head_a", "reject_more_time", reason="工期充足")
    stored = reload(ticket)
    assert stored.deadline == old and stored.open_requests == 0
    assert CaseRequest.objects.get(case_id=ticket.pk).status == "rejected"
    assert open_tasks(ticket) == [("work", "handler", world.county_a.pk)]
    act(world, ticket, "handler_a", "request_more_time", reason="r2", new_deadline=old + timedelta(days=9))
    assert CaseRequest.objects.filter(case_id=ticket.pk, status="pending").count() == 1


def test_more_time__only_while_assigned(world):
    ticket = finished_ticket(world)
    with pytest.raises(AlreadyHandled, match="Only while assigned."):
        act(world, ticket, "handler_a", "request_more_time", reason="r",
            new_deadline=ticket.deadline + timedelta(days=9))


def test_withdraw__drops_the_ticket_and_closes_pending_requests(world):
    # given an assigned ticket with a pending request for more time
    ticket = open_ticket(world)
    act(world, ticket, "handler_a", "request_more_time", reason="r", new_deadline=ticket.deadline + timedelta(days=9))
    # when the inspector proposes withdrawing it and the leader agrees
    with pytest.raises(Denied):
        act(world, ticket, "handler_a", "request_withdraw", reason="不是我们的")
    act(world, ticket, "inspector", "request_withdraw", reason="重复工单")
    with pytest.raises(Denied):
        act(world, ticket, "inspector", "approve_withdraw")
    ticket = act(world, ticket, "leader", "approve_withdraw")
    # then it is dropped: cancelled, no request left pending, every task closed
    stored = reload(ticket)
    assert (stored.status, stored.phase, stored.open_requests) == ("dropped", "cancelled", 0)
    assert stored.closed_at is not None and stored.next_rung_on is None
    assert Process.objects.get(pk=ticket.pk).status == PROCESS.CANCELED
    assert dict(CaseRequest.objects.filter(case_id=ticket.pk).values_list("kind", "status")) == {
        "more_time": "rejected", "withdraw": "granted"}
    assert open_tasks(ticket) == []
    # the leader's task is theirs (done); the others' are cancelled
    assert closed_tasks(ticket) == sorted([
        ("approve_request", "leader", DONE, world.leader.pk),
        ("approve_request", "unit_head", CANCELED, None),
        ("work", "handler", CANCELED, None),
    ])


# The escalation ladder ---------------------------------------------------------------------------


def rows_for(ticket) -> tuple[int, ...]:
    return tuple(model.objects.filter(case_id=ticket.pk).count()
                 for model in (Escalation, OutboxMessage, Proposal, AuditEvent))


def test_ladder__sweep_fires_rungs_tells_the_handler_and_leaves_a_proposal(world):
    # given an assigned ticket, two handlers in its unit
    handler_a2 = make_user(Role.HANDLER, world.county_a)
    ticket = open_ticket(world)
    dates = escalation.rung_dates(ticket.deadline, escalation.policy_for("ticket"))
    # when the sweep runs on the reminder's day, then on the deadline
    assert escalation.sweep(today=dates[Rung.REMINDER] - timedelta(days=1)) == 0
    assert escalation.sweep(today=dates[Rung.REMINDER]) == 1
    assert escalation.sweep(today=dates[Rung.YELLOW]) == 1
    # then the reminder and the yellow light fired
    assert reload(ticket).rung == Rung.YELLOW
    # when it runs long after the last rung
    assert escalation.sweep(today=dates[Rung.ACCOUNTABILITY]) == 3
    # then every rung fired once, in order, each telling the unit's handlers and nobody else
    stored = reload(ticket)
    assert stored.rung == Rung.ACCOUNTABILITY and stored.next_rung_on is None
    assert list(Escalation.objects.filter(case_id=ticket.pk).order_by("rung").values_list("rung", "due_on")) == [
        (rung, dates[rung]) for rung in Rung.values]
    for rung in Rung.values:
        told = set(OutboxMessage.objects.filter(key__startswith=f"esc:{ticket.pk}:{rung}:")
                   .values_list("recipient_id", flat=True))
        assert told == {world.handler_a.pk, handler_a2.pk}, rung
    assert [e.data["rung"] for e in AuditEvent.objects.filter(case_id=ticket.pk, action="escalate")
            .order_by("seq")] == list(Rung.values)
    # and the accountability rung (the only one the type names) left a proposal
    assert list(Proposal.objects.filter(case_id=ticket.pk).values_list("kind", "unit_id")) == [
        ("accountability", world.county_a.pk)]
    # when the sweep runs again, nothing is added
    before = rows_for(ticket)
    assert escalation.sweep(today=dates[Rung.ACCOUNTABILITY] + timedelta(days=30)) == 0
    assert rows_for(ticket) == before
    # and the notifications reach the handler once each
    notify.relay()
    notify.relay()
    messages = list(Notification.objects.filter(user=world.handler_a, case_id=ticket.pk, key__startswith="esc:"))
    assert len(messages) == len(Rung.values)
    assert audit.verify() == []


def test_ladder__stops_when_the_ticket_leaves_the_ladder_state(world):
    # given an assigned ticket past its reminder
    ticket = open_ticket(world)
    dates = escalation.rung_dates(ticket.deadline, escalation.policy_for("ticket"))
    escalation.sweep(today=dates[Rung.REMINDER])
    assert reload(ticket).rung == Rung.REMINDER
    # when the unit finishes it, then the ladder stops
    add_evidence(world, ticket)
    ticket = act(world, ticket, "handler_a", "finish", reason="r")
    assert reload(ticket).next_rung_on is None
    assert escalation.sweep(today=dates[Rung.ACCOUNTABILITY]) == 0
    assert reload(ticket).rung == Rung.REMINDER
    # and when the leader sends it back, the ladder picks up where it was
    act(world, ticket, "leader", "reopen", reason="r")
    assert reload(ticket).next_rung_on == dates[Rung.YELLOW]
    assert escalation.sweep(today=dates[Rung.ACCOUNTABILITY]) == 4
    assert reload(ticket).rung == Rung.ACCOUNTABILITY


# Uploads -------------------------------------------------------------------------------------------


def test_uploads__the_handler_adds_evidence_while_assigned_only(world):
    # given
    draft = open_ticket(world, assign=False)
    ticket = open_ticket(world)
    # when the handler uploads a real PNG
    evidence = add_evidence(world, ticket)
    # then it is stored with its hash, and on record
    assert (evidence.case_id, evidence.content_type, evidence.extension) == (ticket.pk, "image/png", "png")
    assert evidence.sha256 == hashlib.sha256(PNG_BYTES).hexdigest()
    assert read(evidence_storage(), evidence.storage_name) == PNG_BYTES
    event = AuditEvent.objects.get(case_id=ticket.pk, action="upload_evidence")
    assert event.data["sha256"] == evidence.sha256 and event.actor_id == world.handler_a.pk
    # and nobody else may, nor in another state
    for name, expected in (("head_a", Denied), ("inspector", Denied), ("leader", Denied), ("handler_b", NotVisible)):
        with pytest.raises(expected):
            add_evidence(world, ticket, name)
    assert len(denied_events(world.head_a, "upload_evidence")) == 1
    with pytest.raises(AlreadyHandled):  # a new ticket is not open for uploads yet
        add_evidence(world, draft)
    with pytest.raises(Denied):
        add_evidence(world, draft, "inspector")
    with pytest.raises(EvidenceRejected):
        services.add_evidence(TicketCase, actor=world.actor("handler_a"), case_id=ticket.pk,
                              upload=upload("photo.png", b"<html><script>x</script></html>"))
    ticket = act(world, ticket, "handler_a", "finish", reason="r")
    with pytest.raises(AlreadyHandled):
        add_evidence(world, ticket)
    assert Evidence.objects.filter(case_id=ticket.pk).count() == 1


# Audit, outbox --------------------------------------------------------------------------------------


def test_audit__the_chain_verifies_after_a_full_lifecycle(world, capsys):
    # given a ticket taken through every kind of event
    ticket = open_ticket(world, assign=False)
    act(world, ticket, "inspector", "assign")
    services.comment(TicketCase, actor=world.actor("head_a"), case_id=ticket.pk, body="请尽快处理")
    act(world, ticket, "handler_a", "request_more_time", reason="r", new_deadline=reload(ticket).deadline
        + timedelta(days=9))
    act(world, ticket, "head_a", "approve_more_time")
    act(world, ticket, "leader", "approve_more_time")
    with pytest.raises(Denied):
        act(world, ticket, "head_a", "finish", reason="r")
    add_evidence(world, ticket)
    act(world, ticket, "handler_a", "finish", reason="r")
    act(world, ticket, "leader", "reopen", reason="r")
    act(world, ticket, "handler_a", "finish", reason="r2")
    act(world, ticket, "leader", "resolve", score=5)
    # then its chain is whole: numbered, linked, each hash its content's, the head on the case
    events = list(AuditEvent.objects.filter(case_id=ticket.pk).order_by("seq"))
    assert [e.action for e in events] == [
        "create", "assign", "comment", "request_more_time", "approve_more_time", "approve_more_time", "finish",
        "upload_evidence", "finish", "reopen", "finish", "resolve"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.prev_hash == p.hash for p, e in zip(events, events[1:])) and events[0].prev_hash == audit.GENESIS
    assert all(audit.compute_hash(e) == e.hash for e in events)
    stored = reload(ticket)
    assert (stored.audit_seq, stored.audit_hash) == (events[-1].seq, events[-1].hash)
    # and replaying the successful state changes rebuilds the state
    state = ""
    for event in events:
        if event.outcome == "ok" and event.to_state:
            assert event.from_state in ("", state)
            state = event.to_state
    assert state == stored.status == "resolved"
    assert audit.verify() == []
    call_command("verify_audit")
    assert "Audit chain intact" in capsys.readouterr().out


def test_outbox__a_new_task_tells_the_holders_of_the_waited_role_in_the_waited_unit_once(world):
    # given a second handler in county A who also reads email and SMS
    handler_a2 = make_user(Role.HANDLER, world.county_a)
    handler_a2.email, handler_a2.phone, handler_a2.notify_sms = "h2@example.org", "13800000000", True
    handler_a2.save()
    # when a new ticket waits for the city's inspectors, then is assigned to county A's handlers
    ticket = open_ticket(world, assign=False)
    triage = sorted(OutboxMessage.objects.filter(case_id=ticket.pk).values_list("recipient_id", "channel"))
    assert triage == [(world.inspector2.pk, "in_app")]  # not the inspector who opened it: not told of one's own act
    act(world, ticket, "inspector", "assign")
    # then each holder of the waited role in the waited unit gets one row per chosen channel
    rows = OutboxMessage.objects.filter(case_id=ticket.pk, key__startswith=f"ev:case:{ticket.pk}:2:")
    assert sorted(rows.values_list("recipient_id", "channel")) == sorted([
        (world.handler_a.pk, "in_app"), (handler_a2.pk, "email"), (handler_a2.pk, "in_app"), (handler_a2.pk, "sms")])
    row = rows.first()  # the event as the type labels it, and the case
    assert row.message == {"text": "%(event)s (%(number)s %(title)s)",
                           "params": {"event": "Assign", "number": ticket.number, "title": ticket.title}}
    with translation.override("zh-hans"):
        assert row.subject == gettext("%(event)s (%(number)s %(title)s)") % {
            "event": "Assign", "number": ticket.number, "title": ticket.title}
    # and the same key never writes twice, nor delivers twice
    key = f"ev:case:{ticket.pk}:2"
    assert notify.queue(case=ticket, who=[("handler", world.county_a.pk)], key=key, subject=row.message) == 0
    assert rows.count() == 4
    notify.relay()
    notify.relay()
    assert Notification.objects.filter(case_id=ticket.pk, user=handler_a2, key__startswith=key).count() == 1
    assert not OutboxMessage.objects.filter(case_id=ticket.pk, sent_at__isnull=True).exists()


# Bulk dispatch ----------------------------------------------------------------------------------------


def test_bulk__three_units_in_one_go_give_the_rows_of_one_by_one(world):
    # given a third county
    county_c = make_unit("丙县民政局", parent=world.city)
    make_user(Role.HANDLER, county_c)
    units = [world.county_a, world.county_b, county_c]
    # when the same ticket goes to three units at once, and to each one by one
    bulk = services.open_cases(TicketCase, actor=world.actor("inspector"), units=units, issue=True,
                               **ticket_fields(priority="high"))
    single = [open_ticket(world, unit=u, priority="high") for u in units]

    def shape(ticket):
        stored = reload(ticket)
        events = list(AuditEvent.objects.filter(case_id=ticket.pk).order_by("seq")
                      .values_list("seq", "action", "from_state", "to_state", "actor_id", "data"))
        outbox = sorted((m.key.split(":")[3], m.recipient_id, m.channel, m.message["text"])
                        for m in OutboxMessage.objects.filter(case_id=ticket.pk))
        return (stored.status, stored.phase, stored.unit_id, stored.priority, stored.deadline, stored.next_rung_on,
                stored.issued_at is not None, stored.number == f"工单〔{timezone.localdate().year}〕{ticket.pk}号",
                Process.objects.get(pk=ticket.pk).status, events, open_tasks(ticket), outbox)

    # then the rows are the same
    assert [shape(t) for t in bulk] == [shape(t) for t in single]
    assert [reload(t).status for t in bulk] == ["assigned"] * 3
    assert audit.verify() == []


def counts():
    return tuple(model.objects.count() for model in (Process, Case, AuditEvent, Task, OutboxMessage))


def test_bulk__all_or_none(world, monkeypatch):
    # given a county of another city, not below the inspector's unit
    other_city = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    elsewhere = make_unit("外县民政局", parent=other_city)
    before = counts()
    # when / then: one unit out of reach refuses the whole dispatch
    with pytest.raises(ActionError):
        services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a, world.county_b,
                                                                               elsewhere], **ticket_fields())
    assert counts() == before
    # and a failure after the rows were written leaves none of them
    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(engine.notify, "queue_many", broken)
    with pytest.raises(RuntimeError):
        services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a, world.county_b],
                            **ticket_fields())
    assert counts() == before


# Scoping -------------------------------------------------------------------------------------------------


def test_scoping__a_unit_sees_its_own_issued_tickets_the_supervisor_everything_below(world):
    # given
    township = make_unit("甲县城关镇民政所", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a)
    leader_a = make_user(Role.LEADER, world.county_a)
    draft_a = open_ticket(world, assign=False)
    a, b, town = open_ticket(world), open_ticket(world, unit=world.county_b), open_ticket(world, unit=township)
    everything = {draft_a.pk, a.pk, b.pk, town.pk}

    def seen(user):
        ids = set(TicketCase.objects.visible_to(user).values_list("pk", flat=True))
        assert ids == set(Case.objects.visible_to(user).values_list("pk", flat=True))
        return ids

    # then
    assert seen(world.handler_a) == seen(world.head_a) == {a.pk}
    assert seen(world.handler_b) == {b.pk}
    assert seen(world.inspector) == seen(world.leader) == seen(world.legal) == everything
    assert {a.pk, town.pk} <= seen(leader_a) and b.pk not in seen(leader_a)
    assert seen(world.admin) == set()


# Generic pages ------------------------------------------------------------------------------------------


@pytest.fixture
def tickets(world):
    """Four tickets: assigned to A (high), assigned to B, new for A, and overdue at A."""
    high = open_ticket(world, title="东门路灯不亮", priority="high")
    other = open_ticket(world, unit=world.county_b, title="西门道路积水")
    draft = open_ticket(world, assign=False, title="南门井盖缺失")
    late = open_ticket(world, title="北门护栏损坏")
    TicketCase.objects.filter(pk=late.pk).update(deadline=timezone.localdate() - timedelta(days=3))
    return {"high": high, "other": other, "draft": draft, "late": late}


def listed(client, query=""):
    response = client.get(f"/ticket/{query}")
    assert response.status_code == 200
    return {case.pk for case in response.context["page"].object_list}


def test_pages__list_and_its_filters(world, tickets, client):
    t = {name: ticket.pk for name, ticket in tickets.items()}
    client.force_login(world.inspector)
    assert listed(client) == set(t.values())
    assert listed(client, "?status=assigned") == {t["high"], t["other"], t["late"]}
    assert listed(client, "?status=new") == {t["draft"]}
    assert listed(client, "?priority=high") == {t["high"]}
    assert listed(client, f"?unit={world.county_b.pk}") == {t["other"]}
    assert listed(client, "?overdue=on") == {t["late"]}
    assert listed(client, "?q=积水") == {t["other"]}
    assert listed(client, f"?q={tickets['high'].number}") == {t["high"]}
    page = client.get("/ticket/").content.decode()
    assert "东门路灯不亮" in page and "/ticket/export.xlsx" in page and 'name="priority"' in page
    # a unit sees its own issued tickets only
    client.force_login(world.handler_a)
    assert listed(client) == {t["high"], t["late"]}
    # a filter that cannot be read is refused, and another unit's is a 404 on record
    assert client.get("/ticket/?priority=urgent").status_code == 302
    assert client.get(f"/ticket/?unit={world.county_b.pk}").status_code == 404
    assert len(denied_events(world.handler_a, "access_denied", target="unit-filter")) == 1


def test_pages__new_ticket_for_one_unit_or_several(world, client):
    fields = {"title": "路灯", "description": "不亮", "priority": "high", "deadline_days": 4}
    client.force_login(world.handler_a)
    assert client.get("/ticket/new/").status_code == 404
    client.force_login(world.inspector)
    form = client.get("/ticket/new/").content.decode()
    assert all(f'name="{name}"' in form for name in ("title", "description", "priority", "deadline_days",
                                                     "units", "issue_now"))
    # one unit, not issued: a new ticket (a draft)
    response = client.post("/ticket/new/", {**fields, "units": [world.county_a.pk]})
    draft = TicketCase.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ticket/{draft.pk}/"
    assert (draft.status, draft.priority, draft.deadline_days, draft.supervisor_unit_id) == ("new", "high", 4,
                                                                                             world.city.pk)
    # one unit, issued at once: assigned
    client.post("/ticket/new/", {**fields, "title": "井盖", "units": [world.county_a.pk], "issue_now": "on"})
    assert TicketCase.objects.get(title="井盖").status == "assigned"
    # several units: all assigned, back to the list
    response = client.post("/ticket/new/", {**fields, "title": "护栏", "units": [world.county_a.pk,
                                                                              world.county_b.pk], "issue_now": "on"})
    assert response.status_code == 302 and response["Location"] == "/ticket/"
    assert sorted(TicketCase.objects.filter(title="护栏").values_list("unit_id", "status")) == sorted([
        (world.county_a.pk, "assigned"), (world.county_b.pk, "assigned")])
    # several units as drafts, or a bound out of range: the form says why, nothing is opened
    total = TicketCase.objects.count()
    for bad in ({**fields, "units": [world.county_a.pk, world.county_b.pk]},
                {**fields, "units": [world.county_a.pk], "deadline_days": 61},
                {**fields, "units": [world.city.pk], "issue_now": "on"}):
        response = client.post("/ticket/new/", bad)
        assert response.status_code == 200 and response.context["form"].errors
    assert TicketCase.objects.count() == total


def action_links(client, ticket) -> set[str]:
    page = client.get(f"/ticket/{ticket.pk}/").content.decode()
    prefix = f"/ticket/{ticket.pk}/act/"
    return {chunk.split("/")[0] for chunk in page.split(prefix)[1:]}


def test_pages__the_case_page_shows_the_declared_actions_of_the_users_role(world, client):
    draft, ticket = open_ticket(world, assign=False), open_ticket(world)
    expected = {
        ("inspector", draft): {"assign", "drop", "request_withdraw"},
        ("leader", draft): set(),
        ("inspector", ticket): {"request_withdraw"},
        ("handler_a", ticket): {"request_more_time"},     # "finish" waits for evidence
        ("head_a", ticket): set(),
        ("leader", ticket): set(),
    }
    for (name, case), names in expected.items():
        client.force_login(getattr(world, name))
        assert action_links(client, case) == names, name
    client.force_login(world.handler_a)
    page = client.get(f"/ticket/{ticket.pk}/").content.decode()
    assert "Ask for more time" in page and f"/ticket/{ticket.pk}/evidence/" in page
    add_evidence(world, ticket)
    assert action_links(client, ticket) == {"finish", "request_more_time"}
    client.force_login(world.head_a)
    assert f"/ticket/{ticket.pk}/evidence/" not in client.get(f"/ticket/{ticket.pk}/").content.decode()


def test_pages__posting_an_action_form(world, client):
    ticket = open_ticket(world)
    add_evidence(world, ticket)
    client.force_login(world.handler_a)
    # a missing required reason: the form's error, in Chinese, and nothing changes
    response = client.post(f"/ticket/{ticket.pk}/act/finish/", {"reason": ""}, follow=True)
    assert "此项为必填项。" in response.content.decode() and reload(ticket).status == "assigned"
    # with the reason, the action runs
    response = client.post(f"/ticket/{ticket.pk}/act/finish/", {"reason": "已修复"})
    assert response.status_code == 302 and reload(ticket).status == "finished"
    assert AuditEvent.objects.get(case_id=ticket.pk, action="finish").reason == "已修复"
    # the score's bound is the declared one
    client.force_login(world.leader)
    response = client.post(f"/ticket/{ticket.pk}/act/resolve/", {"score": 9}, follow=True)
    assert "确保该值小于或等于5。" in response.content.decode() and reload(ticket).status == "finished"
    # a role that may not act gets 403, a unit that may not see gets 404, both on record
    client.force_login(world.head_a)
    assert client.post(f"/ticket/{ticket.pk}/act/resolve/", {"score": 3}).status_code == 403
    client.force_login(world.handler_b)
    assert client.post(f"/ticket/{ticket.pk}/act/resolve/", {"score": 3}).status_code == 404
    assert len(denied_events(world.head_a, "resolve")) == 1
    assert len(denied_events(world.handler_b, "access_denied", id=str(ticket.pk), attempted="resolve")) == 1
    client.force_login(world.leader)
    client.post(f"/ticket/{ticket.pk}/act/resolve/", {"score": 5})
    assert (reload(ticket).status, reload(ticket).score) == ("resolved", 5)


def test_pages__upload_and_comment_forms(world, client):
    ticket = open_ticket(world)
    client.force_login(world.handler_a)
    response = client.post(f"/ticket/{ticket.pk}/evidence/", {"file": upload(), "note": "更换后"})
    assert response.status_code == 302
    assert list(Evidence.objects.filter(case_id=ticket.pk).values_list("note", "uploaded_by_id")) == [
        ("更换后", world.handler_a.pk)]
    client.force_login(world.head_a)
    assert client.post(f"/ticket/{ticket.pk}/evidence/", {"file": upload()}).status_code == 403
    assert client.post(f"/ticket/{ticket.pk}/comment/", {"body": "请加快"}).status_code == 302
    assert client.post(f"/ticket/{ticket.pk}/comment/", {"body": ""}).status_code == 302
    assert list(Comment.objects.filter(case_id=ticket.pk).values_list("body", "author_id")) == [
        ("请加快", world.head_a.pk)]
    assert AuditEvent.objects.filter(case_id=ticket.pk, action="comment", actor_id=world.head_a.pk).count() == 1
    page = client.get(f"/ticket/{ticket.pk}/").content.decode()
    assert "请加快" in page and "photo.png" in page


def ledger(client, query=""):
    response = client.get(f"/ticket/export.xlsx{query}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = book[Ticket.ledger.title]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def test_pages__the_ledger_has_the_declared_columns_and_the_visible_tickets(world, tickets, client):
    headers = [column.header for column in Ticket.ledger.columns]
    client.force_login(world.inspector)
    head, rows = ledger(client)
    assert head == headers == ["编号", "标题", "单位", "优先级", "状态", "是否逾期", "办结日期"]
    by_number = {row[0]: row for row in rows}
    assert set(by_number) == {t.number for t in tickets.values()}
    assert by_number[tickets["late"].number][1:6] == ["北门护栏损坏", "甲县民政局", "Low", "Assigned", "是"]
    assert by_number[tickets["high"].number][3:6] == ["High", "Assigned", "否"]
    assert by_number[tickets["draft"].number][4] == "New"
    head, rows = ledger(client, "?priority=high")
    assert [row[0] for row in rows] == [tickets["high"].number]
    client.force_login(world.handler_a)
    assert {row[0] for row in ledger(client)[1]} == {tickets["high"].number, tickets["late"].number}
    assert AuditEvent.objects.filter(action="export_ledger", actor_id=world.handler_a.pk).get().data["rows"] == 2


def test_pages__menu_and_inbox_list_tickets(world, client):
    ticket = open_ticket(world)
    client.force_login(world.handler_a)
    page = client.get("/inbox/").content.decode()
    assert '<a href="/ticket/">Tickets</a>' in page and "/ticket/new/" not in page
    assert ticket.number in page and "Work on the ticket" in page
    client.force_login(world.inspector)
    page = client.get("/ticket/").content.decode()
    assert 'href="/ticket/" class="active">Tickets</a>' in page and '<a href="/ticket/new/">New ticket</a>' in page


def test_pages__a_ticket_the_user_may_not_see_is_a_404_on_record(world, client):
    draft, ticket = open_ticket(world, assign=False), open_ticket(world)
    client.force_login(world.handler_b)
    assert client.get(f"/ticket/{ticket.pk}/").status_code == 404
    assert len(denied_events(world.handler_b, "access_denied", target="case", id=str(ticket.pk))) == 1
    client.force_login(world.handler_a)
    assert client.get(f"/ticket/{draft.pk}/").status_code == 404
    assert client.get(f"/ticket/{ticket.pk}/").status_code == 200
    assert client.get("/ticket/999999/").status_code == 404
    assert len(denied_events(world.handler_a, "access_denied", target="case")) == 2
