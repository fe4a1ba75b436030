"""Records beside cases (a test-only checklist): scoped like cases, audited on their own
chain, telling people through the outbox, all in the transaction that writes them."""
import pytest
from django.utils import translation

from tests.engine.models import Checklist
from tests.factories import make_unit, make_user
from workflow.trail import audit
from workflow.cases import engine, records
from workflow.kernel.errors import ActionError
from workflow.models import AuditChain, AuditEvent, OutboxMessage, Role


@pytest.fixture(autouse=True)
def in_english():
    with translation.override("en"):
        yield


def test_records__created_and_changed__on_their_own_chain_with_outbox_rows(world):
    # given a checklist for county A, told to its handler
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a,
                                      title="养老机构消防检查表", items=["灭火器", "疏散通道"],
                                      tell=[(Role.HANDLER, world.county_a.pk)], subject="新的检查表")
    # when an item is marked passed
    with records.changing(Checklist, checklist.pk, actor=world.actor("inspector"), action="pass_item") as change:
        change.record.passed += 1
        change.record.save(update_fields=["passed"])
        change.data = {"item": "灭火器"}
    # then both events are on the checklist's chain, in order, and it verifies
    events = list(AuditEvent.objects.filter(chain=checklist.audit_chain).order_by("seq"))
    assert [(e.seq, e.action, e.case_id) for e in events] == [(1, "create", None), (2, "pass_item", None)]
    assert events[1].data == {"item": "灭火器"}
    assert AuditChain.objects.get(key=checklist.audit_chain).seq == 2
    assert audit.verify() == []
    # and the handler was told once
    assert OutboxMessage.objects.filter(recipient=world.handler_a, channel="in_app").count() == 1


def test_records__scoped_like_cases_and_an_unseen_one_is_a_denied_404(world):
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    assert Checklist.objects.visible_to(world.handler_a).filter(pk=checklist.pk).exists()
    assert not Checklist.objects.visible_to(world.handler_b).filter(pk=checklist.pk).exists()
    assert Checklist.objects.visible_to(world.leader).filter(pk=checklist.pk).exists()
    with pytest.raises(engine.NotVisible):
        with records.changing(Checklist, checklist.pk, actor=world.actor("handler_b"), action="pass_item"):
            pytest.fail("a record the user may not see is never handed over")
    denied = AuditEvent.objects.get(action="access_denied")
    assert denied.data["attempted"] == "pass_item" and denied.actor_id == world.handler_b.pk


def test_records__a_unit_the_actor_may_not_see__is_refused_and_nothing_is_written(world):
    elsewhere = make_unit("外市民政局")
    outsider = make_user(Role.INSPECTOR, elsewhere)
    with pytest.raises(ActionError):
        records.create_record(Checklist, actor=engine.Actor(outsider), unit=world.county_a, title="检查表")
    assert not Checklist.objects.exists()


def test_records__a_failed_change_rolls_back_record_and_event(world):
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    with pytest.raises(ActionError):
        with records.changing(Checklist, checklist.pk, actor=world.actor("inspector"), action="pass_item") as change:
            change.record.passed = 5
            change.record.save(update_fields=["passed"])
            raise ActionError("no")
    checklist.refresh_from_db()
    assert checklist.passed == 0
    assert AuditEvent.objects.filter(chain=checklist.audit_chain).count() == 1
