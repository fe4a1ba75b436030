"""Records beside cases (a test-only checklist): scoped like cases, audited on their own
chain, telling people through the outbox, all in the transaction that writes them; they carry
evidence files and archived documents as cases do."""
import hashlib

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import translation

from tests.engine.models import Checklist
from tests.factories import PNG_BYTES, make_case, make_unit, make_user, upload
from workflow.cases import engine, records
from workflow.cases.evidence import attach_record_evidence
from workflow.documents import archive
from workflow.kernel.errors import ActionError
from workflow.models import ArchivedDocument, AuditChain, AuditEvent, Evidence, OutboxMessage, Role
from workflow.storage.files import evidence_storage, walk
from workflow.trail import audit


@pytest.fixture(autouse=True)
def in_english():
    with translation.override("en"):
        yield


def test_records__created_and_changed__on_their_own_chain_with_outbox_rows(world):
    # given a checklist for county A, told to its handler
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a,
                                      title="养老机构消防检查表", items=["灭火器", "疏散通道"],
                                      tell=[(Role.HANDLER, world.county_a.pk)], message="新的检查表")
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


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def disk(settings, tmp_path):
    settings.EVIDENCE_ROOT = str(tmp_path / "evidence")
    settings.DOCUMENT_ROOT = str(tmp_path / "documents")
    return tmp_path


def test_records__carry_evidence__stored_audited_on_the_record_and_downloaded_in_scope(world, disk):
    # given a checklist for county A
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    # when county A's handler adds a photo to it
    evidence = attach_record_evidence(Checklist, checklist.pk, actor=world.actor("handler_a"),
                                      upload=upload("灭火器.png"), note="现场")
    # then the row names the record, not a case, and the file is stored under the row's id
    evidence.refresh_from_db()
    assert evidence.case_id is None and evidence.record == checklist and evidence.owner == checklist
    assert list(walk(evidence_storage())) == [evidence.storage_name]
    assert evidence.sha256 == hashlib.sha256(PNG_BYTES).hexdigest()
    # and the upload is on the checklist's chain, which verifies
    event = AuditEvent.objects.get(chain=checklist.audit_chain, action="upload_evidence")
    assert event.case_id is None and event.data["sha256"] == evidence.sha256 and event.actor_id == world.handler_a.pk
    assert audit.verify() == []
    # and the file downloads for whoever sees the record, and is a 404 for anyone else
    download = login(world.handler_a).get(f"/evidence/{evidence.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG_BYTES
    assert login(world.leader).get(f"/evidence/{evidence.pk}/").status_code == 200
    assert login(world.handler_b).get(f"/evidence/{evidence.pk}/").status_code == 404


def test_records__an_upload_refused_or_unseen__stores_nothing_and_is_audited(world, disk, monkeypatch):
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    # when someone who does not see the record uploads: a 404, nothing stored
    with pytest.raises(engine.NotVisible):
        attach_record_evidence(Checklist, checklist.pk, actor=world.actor("handler_b"), upload=upload())
    assert AuditEvent.objects.get(action="access_denied").actor_id == world.handler_b.pk
    # when the process lets only its inspectors add files, a handler who sees it is refused
    monkeypatch.setattr(Checklist, "may_upload", lambda self, user: user.role == Role.INSPECTOR)
    with pytest.raises(records.RecordDenied):
        attach_record_evidence(Checklist, checklist.pk, actor=world.actor("handler_a"), upload=upload())
    # then neither left a file or a row, and the refusal is on the record's chain
    assert list(walk(evidence_storage())) == [] and not Evidence.objects.exists()
    denied = AuditEvent.objects.get(chain=checklist.audit_chain, outcome="denied")
    assert denied.action == "upload_evidence" and denied.actor_id == world.handler_a.pk
    assert audit.verify() == []


def test_records__archive_their_documents__rendered_after_commit_and_downloaded_in_scope(world, disk):
    # given a checklist with a photo, and a change that asks for its report
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a,
                                      title="养老机构消防检查表", items=["灭火器", "疏散通道"])
    attach_record_evidence(Checklist, checklist.pk, actor=world.actor("inspector"), upload=upload("通道.png"))
    with records.changing(Checklist, checklist.pk, actor=world.actor("inspector"), action="finish") as change:
        change.record.passed = 2
        change.record.save(update_fields=["passed"])
        change.archive = ["report"]
    # then one pending row names the record
    [doc] = ArchivedDocument.objects.all()
    assert doc.case_id is None and doc.record_id == checklist.pk and doc.rendered_at is None
    # and asking again in a later change adds no second row
    with records.changing(Checklist, checklist.pk, actor=world.actor("inspector"), action="finish") as change:
        change.archive = ["report"]
    assert ArchivedDocument.objects.count() == 1
    # when the worker runs, the report is rendered from the record and stored with its hash
    assert archive.archive_pending() == 1
    doc.refresh_from_db()
    assert doc.rendered_at is not None and doc.size > 0
    # then whoever sees the record downloads that PDF, under the record's own file name
    response = login(world.handler_a).get(f"/documents/{doc.pk}/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF-") and hashlib.sha256(body).hexdigest() == doc.sha256
    assert "%E6%A3%80%E6%9F%A5%E6%8A%A5%E5%91%8A" in response["Content-Disposition"]  # 检查报告
    assert login(world.handler_b).get(f"/documents/{doc.pk}/").status_code == 404


def test_records__an_undeclared_document_rolls_the_change_back(world):
    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    with pytest.raises(LookupError):
        with records.changing(Checklist, checklist.pk, actor=world.actor("inspector"), action="finish") as change:
            change.record.passed = 1
            change.record.save(update_fields=["passed"])
            change.archive = ["no_such_document"]
    checklist.refresh_from_db()
    assert checklist.passed == 0 and not ArchivedDocument.objects.exists()


def test_records__a_file_belongs_to_a_case_or_a_record_never_both(world):
    from django.contrib.contenttypes.models import ContentType

    checklist = records.create_record(Checklist, actor=world.actor("inspector"), unit=world.county_a, title="检查表")
    case = make_case(world)
    row = dict(uploaded_by=world.inspector, display_name="a.png", content_type="image/png", extension="png",
               size=1, sha256="0" * 64)
    for target in ({"case_id": case.pk, "record_type": ContentType.objects.get_for_model(Checklist),
                    "record_id": checklist.pk}, {}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Evidence.objects.create(**row, **target)
