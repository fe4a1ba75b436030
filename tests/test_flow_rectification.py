"""The rectification lifecycle through the services: happy path and every side path."""
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from viewflow.workflow.models import Task

from processes.rectification import services
from processes.rectification.models import ProgressReport, RectificationCase
from workflow.cases.engine import ActionError, AlreadyHandled
from workflow.models import AuditEvent, CaseRequest, OutboxMessage
from workflow.cases.selectors import inbox_done, inbox_todo
from tests.factories import drive, make_case, to_submitted, upload


def open_tasks(case):
    return sorted((t.flow_task.name, t.owner_permission) for t in Task.objects.filter(
        process_id=case.pk, status__in=["NEW", "ASSIGNED"]))


def test_flow__happy_path_from_draft_to_closed(world):
    # given a draft
    case = make_case(world, issue=False)
    assert case.status == "draft"
    assert open_tasks(case) == [("issue", "inspector")]
    # when it goes through every step
    case = drive(world, case, ("inspector", "issue"))
    assert case.deadline is not None and open_tasks(case) == [("sign", "handler")]
    assert [t.process_id for t in inbox_todo(world.handler_a)] == [case.pk]
    case = to_submitted(world, case)
    assert open_tasks(case) == [("review", "inspector")]
    case = drive(world, case, ("inspector", "start_review"), ("inspector", "accept"))
    assert open_tasks(case) == [("sign_off", "leader")]
    case = drive(world, case, ("leader", "sign_off"))
    # then
    case.refresh_from_db()
    assert case.status == "closed" and case.closed_at is not None
    assert open_tasks(case) == []
    assert case.process.status == "DONE"
    actions = list(AuditEvent.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert actions == ["create", "issue", "sign", "upload_evidence", "submit", "head_approve",
                       "start_review", "accept", "sign_off"]
    assert [t.process_id for t in inbox_done(world.leader)] == [case.pk]
    assert OutboxMessage.objects.filter(case_id=case.pk, recipient=world.handler_a).exists()


def test_flow__submit_needs_evidence_and_a_report(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="submit", reason="done")
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="submit", reason="  ")
    assert RectificationCase.objects.get(pk=case.pk).status == "signed"


def test_flow__returns_for_several_rounds(world):
    case = to_submitted(world, make_case(world))
    for round_ in (1, 2):
        case = drive(world, case, ("inspector", "return_case", {"reason": f"第{round_}次退回：照片不清晰"}))
        assert case.status == "returned" and case.returns == round_
        case = drive(world, case, ("handler_a", "submit", {"reason": "已补充"}), ("head_a", "head_approve"))
    case = drive(world, case, ("inspector", "accept"), ("leader", "sign_off"))
    assert case.status == "closed"


def test_flow__return_needs_reasons(world):
    case = to_submitted(world, make_case(world))
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("inspector"), case_id=case.pk, action="return_case", reason="")


def test_flow__unit_head_sends_the_report_back(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    case = drive(world, case, ("handler_a", "submit", {"reason": "完成"}),
                 ("head_a", "head_reject", {"reason": "照片不全"}))
    assert case.status == "rectifying"
    assert open_tasks(case) == [("rectify", "handler")]


def test_flow__refuse_then_reassign_to_the_right_unit(world):
    case = drive(world, make_case(world), ("handler_a", "refuse", {"reason": "不属于我单位职责"}))
    assert case.status == "refused" and open_tasks(case) == [("decide_refusal", "inspector")]
    case = drive(world, case, ("inspector", "reassign", {"unit": world.county_b}))
    assert case.status == "issued" and case.unit_id == world.county_b.pk
    assert open_tasks(case) == [("sign", "handler")]
    assert inbox_todo(world.handler_a).count() == 0
    assert inbox_todo(world.handler_b).count() == 1
    case = drive(world, case, ("handler_b", "sign"))
    assert case.status == "signed"


def test_flow__refusal_rejected_keeps_the_unit(world):
    case = drive(world, make_case(world), ("handler_a", "refuse", {"reason": "不属于我单位"}),
                 ("inspector", "reject_refusal", {"reason": "属于你单位职责"}))
    assert case.status == "issued" and case.unit_id == world.county_a.pk


def test_flow__refuse_only_before_signing(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    with pytest.raises(AlreadyHandled):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="refuse", reason="x")


def test_flow__extension_goes_unit_head_inspector_leader(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    new_deadline = case.deadline + timedelta(days=30)
    case = drive(world, case, ("handler_a", "request_extension", {"reason": "设备采购", "new_deadline": new_deadline}))
    waiting = []
    for approver in ("head_a", "inspector", "leader"):
        waiting.append(sorted(o for n, o in open_tasks(case) if n == "approve_request"))
        case = drive(world, case, (approver, "approve_extension", {"reason": "同意"}))
    assert waiting == [["unit_head"], ["inspector"], ["leader"]]
    case.refresh_from_db()
    assert case.deadline == new_deadline
    assert CaseRequest.objects.get(case=case).status == "granted"
    assert open_tasks(case) == [("rectify", "handler")]


def test_flow__extension_out_of_turn_is_refused(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    drive(world, case, ("handler_a", "request_extension", {"reason": "r", "new_deadline": case.deadline + timedelta(days=5)}))
    with pytest.raises(PermissionDenied):  # the leader is not next: the unit head is
        services.case_act(actor=world.actor("leader"), case_id=case.pk, action="approve_extension")


def test_flow__extension_rejected_keeps_the_deadline(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    old = case.deadline
    case = drive(world, case, ("handler_a", "request_extension", {"reason": "r", "new_deadline": old + timedelta(days=5)}),
                 ("head_a", "approve_extension"), ("inspector", "reject_extension", {"reason": "理由不充分"}))
    assert case.deadline == old
    assert CaseRequest.objects.get(case=case).status == "rejected"


def test_flow__extension_only_before_the_deadline(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    RectificationCase.objects.filter(pk=case.pk).update(deadline=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ActionError):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="request_extension",
                          reason="r", new_deadline=timezone.localdate() + timedelta(days=10))
    assert not CaseRequest.objects.exists()


def test_flow__cancel_needs_the_leader(world):
    case = drive(world, make_case(world), ("handler_a", "sign"),
                 ("inspector", "request_cancel", {"reason": "问题已在专项行动中整改"}))
    assert case.status == "signed"
    assert ("approve_request", "leader") in open_tasks(case)
    case = drive(world, case, ("leader", "approve_cancel"))
    assert case.status == "cancelled" and open_tasks(case) == []


def test_flow__cancel_rejected_by_the_leader(world):
    case = drive(world, make_case(world), ("inspector", "request_cancel", {"reason": "重复立案"}),
                 ("leader", "reject_cancel", {"reason": "并非重复"}))
    assert case.status == "issued"
    assert CaseRequest.objects.get(case=case).status == "rejected"


def test_flow__long_term_rectification_with_periodic_reports(world):
    case = to_submitted(world, make_case(world))
    case = drive(world, case, ("inspector", "accept_long_term", {"reason": "需长期坚持", "report_every_days": 30}))
    assert case.status == "long_term" and case.long_term and case.report_every_days == 30
    for month in (1, 2):
        case = drive(world, case, ("handler_a", "report_progress", {"reason": f"第{month}月进展"}))
        assert case.status == "long_term"
    assert ProgressReport.objects.filter(case=case, final=False).count() == 2
    case = drive(world, case, ("handler_a", "submit", {"reason": "长效机制已建立"}), ("head_a", "head_approve"),
                 ("inspector", "accept"), ("leader", "sign_off"))
    assert case.status == "closed"


def test_flow__dispatch_one_problem_to_many_units(world):
    cases = services.case_dispatch(actor=world.actor("inspector"), units=[world.county_a, world.county_b],
                                   title="养老机构消防安全", description="d", requirement="r")
    assert {c.unit_id for c in cases} == {world.county_a.pk, world.county_b.pk}
    assert all(c.status == "issued" and c.batch_id == cases[0].batch_id for c in cases)
    assert inbox_todo(world.handler_a).count() == 1 and inbox_todo(world.handler_b).count() == 1


def test_flow__closed_case_takes_no_more_actions(world):
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"), ("leader", "sign_off"))
    with pytest.raises(AlreadyHandled):
        services.case_act(actor=world.actor("inspector"), case_id=case.pk, action="request_cancel", reason="x")
    with pytest.raises(ActionError):
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())


def test_dispatch__bulk_rows_match_one_by_one_creation(world):
    # given: the same problem sent to two units in bulk, and to each unit one by one
    from processes.rectification.models import DispatchBatch

    bulk = services.case_dispatch(actor=world.actor("inspector"), units=[world.county_a, world.county_b],
                                  title="t", description="d", requirement="r")
    single = [services.case_create(actor=world.actor("inspector"), unit=u, title="t", description="d",
                                   requirement="r", issue=True) for u in (world.county_a, world.county_b)]

    def shape(case):
        case = RectificationCase.objects.get(pk=case.pk)
        events = list(AuditEvent.objects.filter(case_id=case.pk).order_by("seq")
                      .values_list("seq", "action", "from_state", "to_state", "actor_id"))
        outbox = sorted(OutboxMessage.objects.filter(case_id=case.pk).values_list("recipient_id", "channel"))
        return (case.status, case.unit_id, case.deadline, case.next_rung_on, case.issued_at is not None,
                events, open_tasks(case), outbox)

    # then
    assert [shape(c) for c in bulk] == [shape(c) for c in single]
    assert DispatchBatch.objects.get().cases.count() == 2
    from workflow.trail.audit import verify

    assert verify() == []


def test_actions__side_requests_are_offered_only_when_they_can_succeed(world):
    from workflow.cases.engine import available_actions

    draft = make_case(world, issue=False)
    issued = make_case(world)
    signed = drive(world, make_case(world), ("handler_a", "sign"))
    assert "request_cancel" not in available_actions(draft, world.inspector)
    assert "request_extension" not in available_actions(issued, world.handler_a)
    assert "request_extension" in available_actions(signed, world.handler_a)
    drive(world, signed, ("handler_a", "request_extension", {"reason": "r", "new_deadline": signed.deadline + timedelta(days=9)}))
    signed = RectificationCase.objects.get(pk=signed.pk)
    assert "request_extension" not in available_actions(signed, world.handler_a)
