"""Parent and child cases, and a lead unit with co-units, on case types that exist only in the
tests (tests/engine): the platform serves them from their declarations alone."""
import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import translation
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from tests.engine.models import JointCase, PlanCase, TicketCase
from tests.factories import make_unit, make_user
from workflow.cases import engine, services
from workflow.kernel.errors import ActionError, AlreadyHandled
from workflow.models import AuditEvent, Case, CaseParty, OutboxMessage, Role


@pytest.fixture(autouse=True)
def in_english():
    """Messages are matched in the source language, whatever the catalogue says."""
    with translation.override("en"):
        yield


def open_plan(world, days=60):
    return services.open_cases(PlanCase, actor=world.actor("inspector"), units=[world.county_a], issue=True,
                               title="年度专项检查计划", description="检查各县养老机构", deadline_days=days)[0]


def open_ticket(world, unit, parent=None, days=5):
    return services.open_cases(TicketCase, actor=world.actor("inspector"), units=[unit], issue=True, parent=parent,
                               title="消防器材过期", description="灭火器过期", priority="high", deadline_days=days)[0]


def act(world, model, case, who, action, **params):
    return services.act(model, actor=world.actor(who), case_id=case.pk, action=action, **params)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Parent and child cases ---------------------------------------------------------------------

def test_children__under_a_plan__carry_parent_and_root_and_close_the_plan_only_when_all_end(world):
    # given a running plan with a ticket under it for each county
    plan = open_plan(world)
    first = open_ticket(world, world.county_a, parent=plan)
    second = open_ticket(world, world.county_b, parent=plan)
    # then the tickets know their plan and its tree
    assert (first.parent_id, first.root_id) == (plan.pk, plan.pk)
    assert set(Case.objects.get(pk=plan.pk).open_children().values_list("pk", flat=True)) == {first.pk, second.pk}
    # when the plan is closed with tickets still open, it is refused with the declared reason
    with pytest.raises(AlreadyHandled, match="Every ticket under the plan must end first"):
        act(world, PlanCase, plan, "inspector", "close")
    # and once both tickets have ended
    act(world, TicketCase, first, "inspector", "request_withdraw", reason="重复派发")
    act(world, TicketCase, first, "leader", "approve_withdraw")
    act(world, TicketCase, second, "inspector", "request_withdraw", reason="已由他案处理")
    act(world, TicketCase, second, "leader", "approve_withdraw")
    closed = act(world, PlanCase, plan, "inspector", "close")
    # then the plan closes, with the number of its children on record
    assert (closed.status, closed.phase) == ("closed", "done")
    assert AuditEvent.objects.get(case_id=plan.pk, action="close").data == {"children": 2}


def test_children__deadline_past_the_parents__is_refused_and_nothing_is_saved(world):
    # given a plan due in 3 working days
    plan = open_plan(world, days=3)
    before = Case.objects.count()
    # when a ticket due in 20 working days is opened under it
    with pytest.raises(ActionError, match="would pass that of the case it belongs to"):
        open_ticket(world, world.county_a, parent=plan, days=20)
    # then nothing was saved
    assert Case.objects.count() == before


def test_children__bulk_under_a_plan__all_get_the_parent(world):
    plan = open_plan(world)
    tickets = services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a, world.county_b],
                                  parent=plan, title="排查隐患", description="逐户排查", deadline_days=5)
    assert {(t.parent_id, t.root_id, t.status) for t in tickets} == {(plan.pk, plan.pk, "assigned")}


def test_children__a_parent_of_another_type_or_an_unseen_one__is_refused(world):
    plan = open_plan(world)
    ticket = open_ticket(world, world.county_a)
    other_city = make_unit("外市民政局")
    outsider = make_user(Role.INSPECTOR, other_city)
    child = make_unit("外市某县", parent=other_city)
    with pytest.raises(ActionError, match="cannot be opened under that case"):
        open_ticket(world, world.county_a, parent=ticket)
    with pytest.raises(ActionError, match="may not see it"):
        services.open_cases(TicketCase, actor=engine.Actor(outsider), units=[child], parent=plan,
                            title="t", description="d", deadline_days=3)


def test_children__pages__plan_lists_its_tickets_and_opens_one_under_it(world):
    # given a plan with one ticket
    plan = open_plan(world)
    open_ticket(world, world.county_a, parent=plan)
    inspector = client_for(world.inspector)
    # when the inspector opens the plan's page
    page = inspector.get(reverse("plan:detail", args=[plan.pk]))
    # then it lists the ticket and offers a new one under the plan
    assert page.status_code == 200
    assert "消防器材过期" in page.content.decode()
    new_url = reverse("ticket:new") + f"?parent={plan.pk}"
    assert new_url in page.content.decode()
    # and posting the new-ticket form with the parent opens a ticket under the plan
    form = inspector.get(new_url)
    token = form.context["form"]["form_token"].value()
    posted = inspector.post(reverse("ticket:new"), {
        "units": [world.county_b.pk], "title": "应急照明损坏", "description": "三楼", "priority": "low",
        "deadline_days": 5, "issue_now": "on", "parent": plan.pk, "form_token": token})
    assert posted.status_code == 302
    made = TicketCase.objects.get(title="应急照明损坏")
    assert made.parent_id == plan.pk
    # and the ticket's page links back to its plan
    assert reverse("plan:detail", args=[plan.pk]) in inspector.get(made.get_absolute_url()).content.decode()


def _listed(client, query):
    response = client.get(f"{reverse('ticket:list')}?{query}")
    assert response.status_code == 200, response.status_code
    return response, {case.pk for case in response.context["page"].object_list}


def test_children__the_list_narrowed_to_the_cases_under_one_case(world):
    # given two plans, with tickets under each, and a ticket under none
    plan, other_plan = open_plan(world), open_plan(world)
    first, second = open_ticket(world, world.county_a, parent=plan), open_ticket(world, world.county_b, parent=plan)
    elsewhere = open_ticket(world, world.county_a, parent=other_plan)
    loose = open_ticket(world, world.county_a)
    inspector = client_for(world.inspector)
    # when the list is narrowed to the first plan: only its tickets, with the other filters too
    response, pks = _listed(inspector, f"under={plan.pk}")
    assert pks == {first.pk, second.pk}
    assert _listed(inspector, f"under={plan.pk}&unit={world.county_b.pk}")[1] == {second.pk}
    assert _listed(inspector, f"under={other_plan.pk}")[1] == {elsewhere.pk}
    assert loose.pk in _listed(inspector, "")[1]
    # the page names the plan, links to it and back to the list without it; the filter is kept in the form
    html = response.content.decode()
    assert f'<a href="{plan.get_absolute_url()}">{plan.number} {plan.title}</a>' in html
    assert f'href="{reverse("ticket:list")}"' in html
    assert f'<input type="hidden" name="under" value="{plan.pk}"' in html
    html = inspector.get(f"{reverse('ticket:list')}?under={plan.pk}&priority=high").content.decode()
    assert f'href="{reverse("ticket:list")}?priority=high"' in html
    # and it goes with the list to the ledger, on record
    ledger = inspector.get(f"{reverse('ticket:export')}?under={plan.pk}&unit={world.county_a.pk}")
    assert ledger.status_code == 200
    b"".join(ledger.streaming_content)
    event = AuditEvent.objects.filter(action="export_ledger").latest("pk")
    assert event.data["filters"] == {"under": plan.pk, "unit": world.county_a.pk} and event.data["rows"] == 1
    # a plan's own list has no such filter (plans have no parent)
    assert 'name="under"' not in inspector.get(reverse("plan:list")).content.decode()


def test_children__a_case_the_user_may_not_see_or_cannot_be_read_narrows_nothing(world):
    plan = open_plan(world)  # held by county A
    open_ticket(world, world.county_b, parent=plan)
    county_b = client_for(world.handler_b)
    # then a case the user may not see is a 404 on record, on the list and on its ledger
    for url in (reverse("ticket:list"), reverse("ticket:export")):
        assert county_b.get(f"{url}?under={plan.pk}").status_code == 404
    assert county_b.get(f"{reverse('ticket:list')}?under=99999999").status_code == 404
    denied = AuditEvent.objects.filter(actor_id=world.handler_b.pk, outcome="denied", action="access_denied")
    assert [(e.data["target"], e.data["id"]) for e in denied.order_by("pk")] == [
        ("case-filter", str(plan.pk)), ("case-filter", str(plan.pk)), ("case-filter", "99999999")]
    # and a value that is no case number is refused, never read as no filter
    inspector = client_for(world.inspector)
    for bad in ("abc", "0", "-1", "99999999999999999999", "1.5"):
        response = inspector.get(f"{reverse('ticket:list')}?under={bad}")
        assert response.status_code == 302 and response["Location"] == reverse("ticket:list"), bad
        assert inspector.get(f"{reverse('ticket:export')}?under={bad}").status_code == 400, bad


def test_children__the_api_list_narrowed_to_the_cases_under_one_case(world):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    plan, other_plan = open_plan(world), open_plan(world)
    first, second = open_ticket(world, world.county_a, parent=plan), open_ticket(world, world.county_b, parent=plan)
    open_ticket(world, world.county_a, parent=other_plan)
    inspector = api(world.inspector)
    rows = inspector.get("/api/v1/ticket/cases/", {"under": plan.pk}).json()["results"]
    assert {row["id"] for row in rows} == {first.pk, second.pk}
    rows = inspector.get("/api/v1/ticket/cases/", {"under": plan.pk, "unit": world.county_b.pk}).json()["results"]
    assert [row["id"] for row in rows] == [second.pk]
    for bad in ("abc", "0", "", "99999999999999999999"):
        assert inspector.get("/api/v1/ticket/cases/", {"under": bad}).status_code == 400, bad
    # a type without a parent takes no such filter
    assert inspector.get("/api/v1/plan/cases/", {"under": plan.pk}).status_code == 400
    # a case the user may not see is a 404 on record
    assert api(world.handler_b).get("/api/v1/ticket/cases/", {"under": plan.pk}).status_code == 404
    event = AuditEvent.objects.filter(actor_id=world.handler_b.pk, outcome="denied").latest("pk")
    assert event.data == {"target": "case-filter", "id": str(plan.pk), "via": "api"}

# Lead unit and co-units ---------------------------------------------------------------------

def open_joint(world):
    return services.open_cases(JointCase, actor=world.actor("inspector"), units=[world.county_a],
                               co_units=[world.county_b], title="联合整治", description="两县联合整治",
                               deadline_days=10)[0]


def test_co_units__see_the_case_wait_on_their_part_and_the_lead_reports_after_them(world):
    # given a joint task led by county A with county B as co-unit
    joint = open_joint(world)
    # then county B's handler sees it and has a task for its part, county A's handler one to lead
    assert JointCase.objects.visible_to(world.handler_b).filter(pk=joint.pk).exists()
    open_tasks = set(Task.objects.filter(process_id=joint.pk, status=STATUS.NEW)
                     .values_list("owner_permission", "owner_permission_obj_pk"))
    assert open_tasks == {("handler", str(world.county_a.pk)), ("handler", str(world.county_b.pk))}
    assert OutboxMessage.objects.filter(case_id=joint.pk, recipient=world.handler_b).exists()
    # when the lead reports before the co-unit, it is refused with the declared reason
    with pytest.raises(AlreadyHandled, match="Every co-unit must report its part first"):
        act(world, JointCase, joint, "handler_a", "report", reason="已完成")
    # and the lead may not report the co-unit's part
    with pytest.raises(PermissionDenied):
        act(world, JointCase, joint, "handler_a", "contribute", reason="代报")
    # when county B reports its part
    act(world, JointCase, joint, "handler_b", "contribute", reason="已完成本县部分")
    # then its part is done and its task closed, the lead's stays
    assert CaseParty.objects.get(case_id=joint.pk).done_at is not None
    assert Task.objects.get(process_id=joint.pk, owner_permission_obj_pk=str(world.county_b.pk)).status == STATUS.DONE
    # and county B may not report twice
    with pytest.raises(PermissionDenied):
        act(world, JointCase, joint, "handler_b", "contribute", reason="再报")
    # when the lead reports and the inspector accepts
    act(world, JointCase, joint, "handler_a", "report", reason="两县均已完成")
    done = act(world, JointCase, joint, "inspector", "accept")
    assert done.phase == "done"
    # and county B still sees the ended case
    assert JointCase.objects.visible_to(world.handler_b).filter(pk=joint.pk).exists()


def test_co_units__a_unit_that_is_no_party__sees_nothing(world):
    joint = open_joint(world)
    county_c = make_unit("丙县民政局", parent=world.city)
    stranger = make_user(Role.HANDLER, county_c)
    assert not JointCase.objects.visible_to(stranger).filter(pk=joint.pk).exists()
    assert not Case.objects.visible_to(stranger).filter(pk=joint.pk).exists()
    with pytest.raises(engine.NotVisible):
        services.act(JointCase, actor=engine.Actor(stranger), case_id=joint.pk, action="contribute", reason="x")
    # a rectification list's query keeps its plan: the party clause is only for types with co-units
    from processes.rectification.models import RectificationCase

    assert "EXISTS" not in str(RectificationCase.objects.visible_to(world.handler_b).query).upper()


def test_co_units__the_lead_cannot_be_its_own_co_unit_and_types_without_co_units_refuse_them(world):
    with pytest.raises(ActionError, match="lead unit cannot also be a co-unit"):
        services.open_cases(JointCase, actor=world.actor("inspector"), units=[world.county_a],
                            co_units=[world.county_a], title="t", description="d", deadline_days=3)
    with pytest.raises(ActionError, match="has no co-units"):
        services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a],
                            co_units=[world.county_b], title="t", description="d", deadline_days=3)


def test_co_units__pages__new_form_takes_co_units_and_the_co_unit_acts_from_the_case_page(world):
    inspector = client_for(world.inspector)
    form = inspector.get(reverse("joint:new"))
    assert form.status_code == 200 and "co_units" in form.context["form"].fields
    token = form.context["form"]["form_token"].value()
    posted = inspector.post(reverse("joint:new"), {
        "units": world.county_a.pk, "co_units": [world.county_b.pk], "title": "联合检查", "description": "两县",
        "deadline_days": 5, "form_token": token})
    assert posted.status_code == 302
    joint = JointCase.objects.get(title="联合检查")
    co_handler = client_for(world.handler_b)
    page = co_handler.get(joint.get_absolute_url())
    assert page.status_code == 200
    assert reverse("joint:act", args=[joint.pk, "contribute"]) in page.content.decode()
    assert reverse("joint:act", args=[joint.pk, "report"]) not in page.content.decode()
    done = co_handler.post(reverse("joint:act", args=[joint.pk, "contribute"]), {"reason": "已完成"})
    assert done.status_code == 302
    assert CaseParty.objects.get(case=joint).done_at is not None


# Named waits ----------------------------------------------------------------------------------

def test_named_waits__the_people_a_case_names_get_their_own_tasks_inbox_and_notice(world):
    from workflow.cases import selectors

    # given a plan in draft naming the leader and the legal officer as its reviewers
    plan = services.open_cases(PlanCase, actor=world.actor("inspector"), units=[world.county_a],
                               title="年度计划", description="d", deadline_days=30)[0]
    plan.reviewers.add(world.leader, world.legal)
    # when it is launched
    act(world, PlanCase, plan, "inspector", "launch")
    # then each reviewer has a task of their own, in their inbox, and was told
    named = Task.objects.filter(process_id=plan.pk, owner_permission="named", status=STATUS.NEW)
    assert set(named.values_list("owner_id", flat=True)) == {world.leader.pk, world.legal.pk}
    assert named.filter(owner=world.leader).get().pk in set(selectors.inbox_todo(world.leader).values_list("pk", flat=True))
    assert not selectors.inbox_todo(world.inspector2).filter(owner_permission="named").exists()
    assert OutboxMessage.objects.filter(case_id=plan.pk, recipient=world.legal, channel="in_app").exists()
    # and someone not named may not approve
    with pytest.raises(PermissionDenied):
        act(world, PlanCase, plan, "inspector2", "approve_plan")
    # when the leader approves, the leader's task is done and the legal officer's stays open
    act(world, PlanCase, plan, "leader", "approve_plan")
    assert Task.objects.get(process_id=plan.pk, owner=world.leader, owner_permission="named").status == STATUS.DONE
    assert named.filter(owner=world.legal).exists()
    # and the leader may not approve twice
    with pytest.raises(PermissionDenied):
        act(world, PlanCase, plan, "leader", "approve_plan")


def test_named_waits__someone_named_who_does_not_see_the_case__holds_no_task_and_is_told_nothing(world):
    # given a plan for county A naming the leader and county B's handler, who does not see it
    plan = services.open_cases(PlanCase, actor=world.actor("inspector"), units=[world.county_a],
                               title="年度计划", description="d", deadline_days=30)[0]
    plan.reviewers.add(world.leader, world.handler_b)
    # when it is launched
    act(world, PlanCase, plan, "inspector", "launch")
    # then only the leader holds a task and was told
    named = Task.objects.filter(process_id=plan.pk, owner_permission="named", status=STATUS.NEW)
    assert set(named.values_list("owner_id", flat=True)) == {world.leader.pk}
    assert not OutboxMessage.objects.filter(case_id=plan.pk, recipient=world.handler_b).exists()
    # and county B's handler may not approve it
    with pytest.raises((PermissionDenied, Http404)):
        act(world, PlanCase, plan, "handler_b", "approve_plan")


# Declared fields are the engine's too ---------------------------------------------------------

def test_declared_fields__checked_by_the_engine_whoever_calls(world):
    from tests.factories import upload

    ticket = open_ticket(world, world.county_a)
    services.add_evidence(TicketCase, actor=world.actor("handler_a"), case_id=ticket.pk, upload=upload())
    with pytest.raises(ActionError, match="Please fill in “What was done”"):
        act(world, TicketCase, ticket, "handler_a", "finish", reason="   ")
    with pytest.raises(ActionError, match="takes no “score”"):
        act(world, TicketCase, ticket, "handler_a", "finish", reason="ok", score=1)
    act(world, TicketCase, ticket, "handler_a", "finish", reason="  已更换  ")
    assert AuditEvent.objects.get(case_id=ticket.pk, action="finish").reason == "已更换"
    for score, message in ((9, "between 1 and 5"), ("5", "whole number"), (True, "whole number")):
        with pytest.raises(ActionError, match=message):
            act(world, TicketCase, ticket, "leader", "resolve", score=score)
    assert act(world, TicketCase, ticket, "leader", "resolve", score=5).score == 5


def test_children__a_later_deadline_past_the_parents__is_refused(world):
    # given a plan due in 5 working days and a draft ticket under it allowed 60
    plan = open_plan(world, days=5)
    draft = services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a], parent=plan,
                                title="t", description="d", deadline_days=60)[0]
    # when it is assigned, its deadline would pass the plan's: refused, nothing changes
    with pytest.raises(ActionError, match="would pass that of the case it belongs to"):
        act(world, TicketCase, draft, "inspector", "assign")
    assert TicketCase.objects.get(pk=draft.pk).status == "new"


def test_comments__a_unit_may_not_comment_on_a_draft_it_does_not_see(world):
    from workflow.models import Comment

    draft = services.open_cases(TicketCase, actor=world.actor("inspector"), units=[world.county_a],
                                title="t", description="d", deadline_days=5)[0]
    with pytest.raises(engine.NotVisible):
        services.comment(TicketCase, actor=world.actor("handler_a"), case_id=draft.pk, body="看到了")
    assert not Comment.objects.filter(case_id=draft.pk).exists()
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_a.pk).exists()
    services.comment(TicketCase, actor=world.actor("inspector"), case_id=draft.pk, body="待派发")
    assert Comment.objects.filter(case_id=draft.pk).count() == 1


def test_declarations__that_cannot_run__fail_when_the_model_is_built():
    from django.core.exceptions import ImproperlyConfigured

    from tests.engine.declaration import Ticket
    from workflow.kernel import binding
    from workflow.kernel.declaration import (SUPERVISOR, Action, Create,
                                             SideRequest, State, Task, Verb, at)
    from workflow.models import Role

    inspector = at(Role.INSPECTOR, SUPERVISOR)

    class Broken(Ticket):
        key = "inbox"
        states = (State("open", "Open", (Task("start", "x", inspector),)), State("shut", "Shut", end="done"),
                  State("stuck", "Stuck"))
        actions = (Action("shut", "open", "shut", inspector, "Shut"), Action("vanish", "open", "nowhere", inspector, "x"))
        requests = (SideRequest("a_kind_name_far_too_long", "x", inspector, (inspector,), ask=Verb("ask"),
                                approve=Verb("ok"), reject=Verb("no")),)
        create = Create(role=Role.INSPECTOR, fields=(), then="launch")
        initial = "limbo"

    class Model:
        def shut(self):
            pass

    Broken.prepare()
    with pytest.raises(ImproperlyConfigured) as caught:
        binding._check(Model, Broken)
    message = str(caught.value)
    for problem in ("initial state 'limbo'", "'vanish' has no method", "unknown state 'nowhere'",
                    "open state 'stuck' has no action", "'launch', which is no action", "key 'inbox' is taken",
                    "task node 'start'", "longer than 16", "must ask for a required reason"):
        assert problem in message, problem
