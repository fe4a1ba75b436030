"""Items the last review left open: the double-submit token claimed in the database, the
outbox relay sending outside any transaction, per-issuer document numbers, notifications in
the recipient's language, the done list re-scoped after a move, and the document archived on
sign-off (RELIABILITY 2 and 8).

Races run on PostgreSQL with separate connections (helpers from test_reliability_concurrency);
the rest runs on both databases.
"""
import hashlib
import re
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client, override_settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from processes.rectification import services
from processes.rectification.models import ProgressReport, RectificationCase, State
from workflow.documents import archive as documents
from workflow.cases import escalation, selectors
from workflow.trail import notify
from workflow.kernel import tokens
from workflow.models import (ArchivedDocument, AuditEvent, DocumentCounter, FormToken, Notification, OutboxMessage, Rung)
from workflow.tasks import archive_documents
from tests.factories import drive, make_case, make_world, to_submitted, upload
from tests.test_reliability_concurrency import hold_lock_during, needs_postgres, run_together
from tests.test_worker_delivery import broker, on_broker, redis_server, workers  # noqa: F401 - fixtures
from tests.worker_support import wait_until

TOKEN = "e" * 32


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _signed(world):
    return drive(world, make_case(world), ("handler_a", "sign"))


# 1. The double-submit token, claimed in the transaction of the change ------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_token__one_progress_report_sent_twice_at_once_counts_once(monkeypatch):
    # given: a signed case; the handler's browser posts the same progress report twice
    # before the first answer arrives (report_progress may follow itself, so only the token
    # can tell the second post from a new report)
    world = make_world()
    case = _signed(world)
    first, second = Client(), Client()
    first.force_login(world.handler_a)
    second.cookies = first.cookies
    hold_lock_during(monkeypatch, "report_progress")
    url = f"/rectification/{case.pk}/act/report_progress/"
    form = {"form_token": TOKEN, "reason": "已完成消防通道清理的一半"}
    # when
    results = run_together(lambda: first.post(url, form), lambda: second.post(url, form))
    # then: both answers lead back to the case page; one report and one event were written
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert [r.status_code for _, r in results] == [302, 302]
    assert ProgressReport.objects.filter(case_id=case.pk).count() == 1
    assert AuditEvent.objects.filter(case_id=case.pk, action="report_progress").count() == 1
    assert FormToken.objects.filter(user=world.handler_a, token=TOKEN).count() == 1
    # and the second post said so (read from each answer's own request: the two posts share one
    # session, so whichever is saved last may replace the other's message there)
    with translation.override("zh-hans"):
        told = gettext("This form was already submitted; the result is shown below.")
    said = [str(m) for _, r in results for m in get_messages(r.wsgi_request)]
    assert told in said, said


def test_token__the_second_post_shows_the_first_result(world, client):
    # given
    case = _signed(world)
    client.force_login(world.handler_a)
    url = f"/rectification/{case.pk}/act/report_progress/"
    form = {"form_token": TOKEN, "reason": "正在整改"}
    # when
    client.post(url, form)
    again = client.post(url, form, follow=True)
    # then
    assert ProgressReport.objects.filter(case_id=case.pk).count() == 1
    with translation.override("zh-hans"):
        assert gettext("This form was already submitted; the result is shown below.") in _messages(again)
    # and a new form (a new token) is a new report
    client.post(url, {"form_token": tokens.new(), "reason": "整改完成过半"})
    assert ProgressReport.objects.filter(case_id=case.pk).count() == 2


def test_token__a_change_that_rolls_back_frees_its_token(world, client):
    # given: a signed case without evidence, so submitting it is refused inside the transaction
    case = _signed(world)
    client.force_login(world.handler_a)
    url = f"/rectification/{case.pk}/act/submit/"
    form = {"form_token": TOKEN, "reason": "已整改"}
    # when
    refused = client.post(url, form, follow=True)
    # then: nothing changed and the token was not kept
    with translation.override("zh-hans"):
        assert gettext("Upload at least one piece of evidence before submitting.") in _messages(refused)
    assert not FormToken.objects.exists()
    assert RectificationCase.objects.get(pk=case.pk).status == State.SIGNED
    # when: the evidence is added and the same form sent again, it goes through
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    client.post(url, form)
    assert RectificationCase.objects.get(pk=case.pk).status == State.PENDING_HEAD
    assert FormToken.objects.filter(token=TOKEN).count() == 1


def test_token__another_users_token_or_a_forged_one_claims_nothing(world, client):
    # given: the handler's token is taken
    case = _signed(world)
    FormToken.objects.create(user=world.handler_a, token=TOKEN)
    client.force_login(world.handler_a)
    url = f"/rectification/{case.pk}/act/report_progress/"
    # when: an over-long forged token is posted, twice
    for _ in range(2):
        assert client.post(url, {"form_token": "f" * 5000, "reason": "进展"}).status_code == 302
    # then: each counted (a malformed token protects nothing but breaks nothing)
    assert ProgressReport.objects.filter(case_id=case.pk).count() == 2
    # and the same token is another user's own
    assert tokens.claim(world.head_a, TOKEN)


@pytest.mark.parametrize("units", ["one", "several"])
def test_token__a_new_case_form_sent_twice_opens_its_cases_once(world, client, units):
    # given: the inspector's new-case form, for one unit or for several at once
    client.force_login(world.inspector)
    page = client.get("/rectification/new/").content.decode()
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page).group(1)
    chosen = [world.county_a.pk] if units == "one" else [world.county_a.pk, world.county_b.pk]
    form = {"form_token": token, "units": chosen, "title": "养老院消防通道堵塞", "source": "inspection",
            "description": "二楼消防通道堆放杂物。", "requirement": "立即清理。", "deadline_days": 10, "issue_now": "on"}
    # when: the form is sent twice (a double click)
    first = client.post("/rectification/new/", form)
    again = client.post("/rectification/new/", form, follow=True)
    # then: the cases were opened once; the second answer leads to the list, saying so
    assert first.status_code == 302
    assert RectificationCase.objects.filter(title="养老院消防通道堵塞").count() == len(chosen)
    assert again.redirect_chain[-1][0] == "/rectification/"
    with translation.override("zh-hans"):
        assert gettext("This form was already submitted; its cases are in the list.") in _messages(again)
    # and a fresh form opens new ones
    client.post("/rectification/new/", {**form, "form_token": tokens.new()})
    assert RectificationCase.objects.filter(title="养老院消防通道堵塞").count() == 2 * len(chosen)


def test_token__old_tokens_are_pruned(world):
    FormToken.objects.create(user=world.handler_a, token="1" * 32)
    old = FormToken.objects.create(user=world.handler_a, token="2" * 32)
    FormToken.objects.filter(pk=old.pk).update(created_at=timezone.now() - tokens.KEEP - timedelta(minutes=1))
    assert tokens.prune() == 1
    assert list(FormToken.objects.values_list("token", flat=True)) == ["1" * 32]


# 2. The relay sends outside any transaction, under a lease ----------------------------------------
def _email_row(world, case):
    return OutboxMessage.objects.get(case=case, recipient=world.handler_a, channel=OutboxMessage.Channel.EMAIL)


@pytest.mark.django_db(transaction=True)
def test_relay__during_a_slow_send_another_transaction_can_write(monkeypatch, settings):
    # given: the handler gets email through a mail server that takes 2 s per message
    monkeypatch.setattr(notify, "enqueue_relay", lambda: None)  # the relay runs when this test says
    settings.EMAIL_BACKEND = "tests.slow_email.SlowEmailBackend"
    monkeypatch.setenv("DUBAN_SLOW_EMAIL_SECONDS", "2")
    world = make_world()
    world.handler_a.email = "handler@mz.example.gov.cn"
    world.handler_a.save()
    case = make_case(world)
    row = _email_row(world, case)
    sending_started = threading.Event()
    send_mail = notify.send_mail

    def send_and_tell(*args, **kwargs):
        sending_started.set()
        return send_mail(*args, **kwargs)

    monkeypatch.setattr(notify, "send_mail", send_and_tell)
    relay = threading.Thread(target=lambda: (notify.relay(), connection.close()))
    relay.start()
    try:
        assert sending_started.wait(10), "the relay never got to the email"
        # when: while the mail server is busy with it, someone writes
        started = time.monotonic()
        with transaction.atomic():
            world.inspector.full_name = "督查员甲"
            world.inspector.save(update_fields=["full_name"])
        took = time.monotonic() - started
        sending = relay.is_alive()
    finally:
        relay.join(20)
    # then: the write did not wait for the mail server, and the email went out once
    assert sending and took < 1.0, took
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1


class WorkerKilled(BaseException):
    """The worker process dying mid-send: nothing after this point runs."""


@override_settings(DUBAN_OUTBOX_LEASE_SECONDS=1)
def test_relay__a_worker_that_dies_mid_send_leaves_the_row_for_after_the_lease(world, monkeypatch):
    # given
    world.handler_a.email = "handler@mz.example.gov.cn"
    world.handler_a.save()
    case = make_case(world)
    row = _email_row(world, case)

    def dies(*args, **kwargs):
        raise WorkerKilled()

    monkeypatch.setattr(notify, "send_mail", dies)
    # when: the worker dies while sending
    with pytest.raises(WorkerKilled):
        notify.relay()
    # then: the row is leased to the dead worker: unsent, its attempt counted, not due yet
    row.refresh_from_db()
    assert row.sent_at is None and row.failed_at is None and row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    monkeypatch.undo()
    assert notify.relay() == 0  # another relay leaves it alone while the lease runs
    assert mail.outbox == []
    # when: the lease runs out, the next relay sends it, once
    time.sleep(1.1)
    assert notify.relay() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2
    assert [m.to for m in mail.outbox] == [["handler@mz.example.gov.cn"]]
    assert notify.relay() == 0


def test_relay__a_send_that_kills_its_worker_every_time_ends_failed_not_retried_for_ever(world, monkeypatch):
    # given: an email whose sending kills the worker (out of memory, say) every time
    world.handler_a.email = "handler@mz.example.gov.cn"
    world.handler_a.save()
    row = _email_row(world, make_case(world))
    sends = []

    def dies(*args, **kwargs):
        sends.append(args)
        raise WorkerKilled()

    monkeypatch.setattr(notify, "send_mail", dies)
    # when: a worker takes it, dies mid-send, and its lease runs out, again and again
    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        with pytest.raises(WorkerKilled):
            notify.relay()
        row.refresh_from_db()
        assert (row.attempts, row.failed_at, row.sent_at) == (attempt, None, None)
        OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # then: once its attempts are used up, the next relay does not send it again: it is failed,
    # with the reason, for an administrator to see
    assert notify.relay() == 0
    row.refresh_from_db()
    assert len(sends) == notify.MAX_ATTEMPTS and row.failed_at is not None and row.sent_at is None
    assert "did not finish within its lease" in row.last_error
    assert notify.relay() == 0 and len(sends) == notify.MAX_ATTEMPTS
    # and once the administrator retries it (the mail server fixed), it goes out
    monkeypatch.undo()
    assert notify.retry_failed(OutboxMessage.objects.filter(pk=row.pk)) == 1
    assert notify.relay() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.failed_at is None and row.attempts == 1
    assert [m.to for m in mail.outbox] == [["handler@mz.example.gov.cn"]]


# 3. Per-issuer document numbers -------------------------------------------------------------------
def _red(world, case):
    RectificationCase.objects.filter(pk=case.pk).update(rung=Rung.RED, deadline=timezone.localdate() - timedelta(days=9))


def _letter(client, unit):
    return client.post(f"/red-list/{unit.pk}/letter.pdf")


def _serials():
    return sorted(e.data["serial"] for e in AuditEvent.objects.filter(action="supervision_letter"))


def _pdf_text(pdf: bytes, tmp_path) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    path = tmp_path / f"{hashlib.sha256(pdf).hexdigest()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(out.split())


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_letter_number__concurrent_letters_get_distinct_consecutive_numbers(tmp_path):
    # given: a red-listed case in unit A; four leadership users of the city bureau
    world = make_world()
    _red(world, make_case(world))
    issuers = [world.leader, world.inspector, world.inspector2, world.leader]
    clients = []
    for user in issuers:
        client = Client()
        client.force_login(user)
        clients.append(client)
    # when: all four issue a 督办函 to unit A at once
    results = run_together(*[(lambda c=c: _letter(c, world.county_a)) for c in clients])
    # then: four letters numbered 1 to 4, each number once, as the counter says
    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert [r.status_code for _, r in results] == [200] * 4
    year = timezone.localdate().year
    assert _serials() == [1, 2, 3, 4]
    assert DocumentCounter.objects.get(unit=world.city, kind="supervision_letter", year=year).last == 4
    texts = [_pdf_text(r.content, tmp_path) for _, r in results]
    if texts[0] is not None:
        assert sorted(n for n in range(1, 5) for text in texts if f"〔{year}〕{n}号" in text) == [1, 2, 3, 4]


def test_letter_number__counted_per_issuing_unit_and_year(world, client):
    # given: a county bureau with its own inspector and a red-listed township case below it
    _red(world, make_case(world))
    client.force_login(world.leader)
    # when / then: the city bureau's letters count 1, 2
    _letter(client, world.county_a)
    _letter(client, world.county_a)
    assert _serials() == [1, 2]
    # and a rolled-back document gives its number back
    year = timezone.localdate().year
    with pytest.raises(IntegrityError), transaction.atomic():
        assert documents.next_number(world.city, "supervision_letter", year) == 3
        raise IntegrityError("the audit write failed")
    assert documents.next_number(world.city, "supervision_letter", year) == 3
    # and another issuer, another kind or another year starts at 1
    assert documents.next_number(world.county_a, "supervision_letter", year) == 1
    assert documents.next_number(world.city, "decision", year) == 1
    assert documents.next_number(world.city, "supervision_letter", year + 1) == 1


def test_letter_number__a_letter_that_fails_to_render_takes_no_number(world, monkeypatch):
    # given: a red-listed case; a leader whose PDF renderer fails
    _red(world, make_case(world))
    client = Client(raise_request_exception=False)
    client.force_login(world.leader)

    def broken(*args, **kwargs):
        raise RuntimeError("renderer down")

    monkeypatch.setattr("workflow.web.leadership.render_pdf", broken)
    # when: the letter is asked for
    assert _letter(client, world.county_a).status_code == 500
    # then: no number was taken and no letter recorded; the next good letter is number 1
    assert _serials() == []
    assert not DocumentCounter.objects.filter(last__gt=0).exists()
    monkeypatch.undo()
    assert _letter(client, world.county_a).status_code == 200
    assert _serials() == [1]


# 4. Notifications in the recipient's language ---------------------------------------------------------
def _to_pending_head(world):
    case = _signed(world)
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    return drive(world, case, ("handler_a", "submit", {"reason": "已清理完毕"}))


def _todo(language, case):
    """What the inspector is told when the unit head approves (no opinion given)."""
    with translation.override(language):
        return gettext("%(event)s (%(number)s %(title)s)") % {
            "event": gettext("Approve and send up"), "number": case.number, "title": case.title}


@pytest.mark.parametrize("actor_language, reader_language", [("en", "zh-hans"), ("zh-hans", "en")])
def test_language__a_notification_is_written_in_the_readers_language(world, actor_language, reader_language):
    # given: the unit head works in one language and the inspector reads in the other
    world.inspector.language = reader_language
    world.inspector.email = "inspector@mz.example.gov.cn"
    world.inspector.save()
    case = _to_pending_head(world)
    head = Client()
    head.force_login(world.head_a)
    head.cookies["django_language"] = actor_language
    # when: the head approves through the web, in their language, and the outbox is relayed
    response = head.post(f"/rectification/{case.pk}/act/head_approve/", {"form_token": tokens.new()})
    assert response.status_code == 302 and response["Content-Language"] == actor_language
    notify.relay()
    # then: the inspector's bell and email speak the inspector's language
    expected = _todo(reader_language, case)
    assert expected != _todo(actor_language, case)
    assert Notification.objects.get(user=world.inspector, case=case).message == expected
    assert [m.subject for m in mail.outbox if m.to == [world.inspector.email]] == [expected]


def test_language__escalation_labels_follow_the_reader_too(world):
    # given: the handler reads English, the unit head Chinese; the case is two days overdue
    world.handler_a.language = "en"
    world.handler_a.save()
    case = make_case(world)
    deadline = timezone.localdate() - timedelta(days=1)
    case.deadline = deadline
    RectificationCase.objects.filter(pk=case.pk).update(deadline=deadline, next_rung_on=escalation.next_rung_on(case))
    # when
    with translation.override("zh-hans"):  # the worker's language
        escalation.sweep()
    notify.relay()
    # then: "Yellow light: ..." for the handler, "黄灯...：" for the head
    for_handler = set(Notification.objects.filter(user=world.handler_a, key__startswith="esc:")
                      .values_list("message", flat=True))
    for_head = set(Notification.objects.filter(user=world.head_a, key__startswith="esc:")
                   .values_list("message", flat=True))
    with translation.override("zh-hans"):
        yellow_zh = gettext("Yellow light")
    assert any(m.startswith("Yellow light: ") for m in for_handler), for_handler
    assert for_head and all(m.startswith(yellow_zh) for m in for_head), for_head
    assert yellow_zh != "Yellow light"


def test_language__the_switcher_keeps_the_choice_on_the_account(world, client):
    client.force_login(world.handler_a)
    assert world.handler_a.language == "zh-hans"
    client.post("/i18n/setlang/", {"language": "en", "next": "/inbox/"})
    world.handler_a.refresh_from_db()
    assert world.handler_a.language == "en"
    client.post("/i18n/setlang/", {"language": "xx", "next": "/inbox/"})  # not offered: kept as it was
    world.handler_a.refresh_from_db()
    assert world.handler_a.language == "en"


# 5. The done list after a move --------------------------------------------------------------------
def test_done_list__after_a_move_the_old_units_cases_are_gone(world, client):
    # given: the handler of unit A signed a case (a task done)
    case = _signed(world)
    assert [t.process_id for t in selectors.inbox_done(world.handler_a)] == [case.pk]
    client.force_login(world.handler_a)
    assert case.number in client.get("/inbox/?tab=done").content.decode()
    # when: the handler moves to unit B
    world.handler_a.unit = world.county_b
    world.handler_a.save()
    # then: the case is no longer in their done list, on the page or in the query
    assert not selectors.inbox_done(world.handler_a).exists()
    assert case.number not in client.get("/inbox/?tab=done").content.decode()


def test_done_list__a_supervisor_moved_below_keeps_only_what_the_new_unit_sees(world):
    # given: an inspector of the city bureau accepted a case of unit A and one of unit B
    case_a = drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"))
    case_b = drive(world, make_case(world, unit=world.county_b), ("handler_b", "sign"))
    services.case_add_evidence(actor=world.actor("handler_b"), case_id=case_b.pk, upload=upload())
    drive(world, case_b, ("handler_b", "submit", {"reason": "已整改"}), ("head_b", "head_approve"),
          ("inspector", "accept"))
    assert sorted(t.process_id for t in selectors.inbox_done(world.inspector)) == sorted([case_a.pk, case_b.pk])
    # when: the inspector moves to county bureau B
    world.inspector.unit = world.county_b
    world.inspector.save()
    # then: only the case within B's subtree is left
    assert [t.process_id for t in selectors.inbox_done(world.inspector)] == [case_b.pk]


# 6. The closing record archived on sign-off (RELIABILITY 8) -------------------------------------------
@pytest.fixture
def store(settings, tmp_path):
    settings.DOCUMENT_ROOT = str(tmp_path / "documents")
    return tmp_path / "documents"


def _stored(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _accepted(world):
    return drive(world, to_submitted(world, make_case(world)), ("inspector", "accept", {"reason": "整改到位"}))


class Renderer:
    """workflow.pdf.render_pdf, broken until fixed."""

    def __init__(self, monkeypatch):
        from workflow.documents import pdf

        self.real, self.broken, self.calls = pdf.render_pdf, True, 0
        monkeypatch.setattr(pdf, "render_pdf", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.broken:
            raise RuntimeError("fontconfig: no CJK font")
        return self.real(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
@override_settings(DUBAN_RETRY_BASE_SECONDS=1)
def test_archive__rendering_fails_at_sign_off__closed_with_a_pending_job_that_is_retried(monkeypatch, store, tmp_path):
    # given: an accepted case, and PDF rendering broken
    world = make_world()
    case = _accepted(world)
    renderer = Renderer(monkeypatch)
    leader = Client()
    leader.force_login(world.leader)
    # when: the leader signs off through the web
    response = leader.post(f"/rectification/{case.pk}/act/sign_off/", {"form_token": tokens.new(), "reason": "同意销号"})
    # then: the case is closed, and its closing record is pending: the after-commit run failed
    # and left its error and a retry time
    assert response.status_code == 302
    assert RectificationCase.objects.get(pk=case.pk).status == State.CLOSED
    doc = ArchivedDocument.objects.get(case_id=case.pk)
    assert (doc.name, doc.rendered_at, doc.attempts) == ("closing_record", None, 1)
    assert "no CJK font" in doc.last_error and doc.next_attempt_at > timezone.now()
    assert renderer.calls == 1 and _stored(store) == []
    # when: rendering works again; the beat's run before the backoff has passed does nothing,
    # the one after archives it
    renderer.broken = False
    assert archive_documents.apply(throw=True).result == 0
    time.sleep(1.1)
    assert archive_documents.apply(throw=True).result == 1
    # then: one stored PDF whose SHA-256 is on the row
    doc.refresh_from_db()
    [path] = _stored(store)
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and doc.rendered_at is not None and doc.attempts == 2
    assert doc.sha256 == hashlib.sha256(data).hexdigest() and doc.size == len(data)
    text = _pdf_text(data, tmp_path)
    if text is not None:
        for fragment in ("整改销号记录", case.number, "甲县民政局", "同意销号", "整改到位"):
            assert fragment in text, fragment
    # when: the job runs twice more (a redelivered message, the beat)
    assert documents.archive(doc.pk) == 0
    assert archive_documents.apply(throw=True).result == 0
    # then: still one document
    assert ArchivedDocument.objects.filter(case_id=case.pk).count() == 1
    assert _stored(store) == [path] and renderer.calls == 2


def test_archive__a_failure_to_queue_the_job_leaves_the_case_unsigned(world, monkeypatch, store):
    # given
    case = _accepted(world)

    def failing(cases):
        raise RuntimeError("disk full")

    monkeypatch.setattr(documents, "queue_archives", failing)
    # when
    with pytest.raises(RuntimeError):
        drive(world, case, ("leader", "sign_off"))
    # then: no sign-off without its pending document
    assert RectificationCase.objects.get(pk=case.pk).status == State.ACCEPTED
    assert not AuditEvent.objects.filter(case_id=case.pk, action="sign_off").exists()
    assert not ArchivedDocument.objects.exists()


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_archive__two_workers_at_once_store_one_document(monkeypatch, store):
    # given: a closed case whose record is pending (rendering was down at sign-off)
    world = make_world()
    case = _accepted(world)
    renderer = Renderer(monkeypatch)
    drive(world, case, ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=case.pk)
    ArchivedDocument.objects.filter(pk=doc.pk).update(next_attempt_at=timezone.now())
    renderer.broken = False
    failed_renders = renderer.calls
    # when: two workers run it at once
    results = run_together(lambda: documents.archive(doc.pk), lambda: documents.archive(doc.pk))
    # then: one took the lease and rendered; the other found it taken and rendered nothing
    assert sorted(results) == [("ok", 0), ("ok", 1)], results
    assert renderer.calls == failed_renders + 1
    doc.refresh_from_db()
    [path] = _stored(store)
    assert doc.rendered_at is not None and doc.attempts == 2
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_archive__a_renderer_that_outlives_its_lease_does_not_replace_the_stored_file(monkeypatch, store):
    # given: a closed case whose record is pending, and a renderer so slow that its lease runs
    # out and a second worker renders and stores the record first
    world = make_world()
    case = _accepted(world)
    renderer = Renderer(monkeypatch)
    drive(world, case, ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=case.pk)
    ArchivedDocument.objects.filter(pk=doc.pk).update(next_attempt_at=timezone.now())
    renderer.broken = False
    overtaken = []

    def slow_render(row):
        if not overtaken:  # the first worker, still rendering when its lease runs out
            overtaken.append("first")
            ArchivedDocument.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
            overtaken.append(documents.archive(row.pk))  # the second worker, start to finish
            [stored] = _stored(store)
            overtaken.append((stored.stat().st_ino, stored.read_bytes()))
            return b"%PDF-1.7 the first worker's rendering, finished late"
        return render(row)

    render = documents.render
    monkeypatch.setattr(documents, "render", slow_render)
    # when: the first worker finishes after the second stored the record
    assert documents.archive(doc.pk) == 0
    # then: the second worker's file stands, unchanged, with its SHA-256 on the row
    _first, second, (inode, data) = overtaken
    [path] = _stored(store)
    doc.refresh_from_db()
    assert second == 1 and data.startswith(b"%PDF") and doc.attempts == 3
    assert (path.stat().st_ino, path.read_bytes()) == (inode, data)
    assert doc.sha256 == hashlib.sha256(data).hexdigest() and doc.size == len(data)


class WriteThenDie:
    """documents.store_new, the worker dying right after the file is stored."""

    def __init__(self, monkeypatch):
        self.real = documents.store_new
        monkeypatch.setattr(documents, "store_new", self)

    def __call__(self, path, data, **kwargs):
        self.real(path, data, **kwargs)
        raise WorkerKilled()


def test_archive__a_file_stored_by_a_worker_that_died_is_kept_and_recorded(world, monkeypatch, store):
    # given: a record a worker rendered and stored, dying before it could mark the row archived
    case = drive(world, _accepted(world), ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=case.pk, rendered_at__isnull=True)
    renderer = Renderer(monkeypatch)
    renderer.broken = False
    dying = WriteThenDie(monkeypatch)
    with pytest.raises(WorkerKilled):
        documents.archive(doc.pk)
    doc.refresh_from_db()
    [path] = _stored(store)
    inode, data = path.stat().st_ino, path.read_bytes()
    assert doc.rendered_at is None and doc.attempts == 1 and doc.next_attempt_at > timezone.now()
    monkeypatch.setattr(documents, "store_new", dying.real)
    # when: its lease runs out and the beat's run takes it up again
    ArchivedDocument.objects.filter(pk=doc.pk).update(next_attempt_at=timezone.now())
    assert archive_documents.apply(throw=True).result == 1
    # then: the stored file is kept as it was, and it is the one on the row
    doc.refresh_from_db()
    assert _stored(store) == [path] and (path.stat().st_ino, path.read_bytes()) == (inode, data)
    assert doc.rendered_at is not None and doc.attempts == 2 and renderer.calls == 2
    assert doc.sha256 == hashlib.sha256(data).hexdigest() and doc.size == len(data)


@pytest.mark.django_db(transaction=True)
def test_archive__downloaded_from_the_case_page_by_those_who_see_the_case(store):
    # given: a closed case with its record archived after commit
    world = make_world()
    case = drive(world, _accepted(world), ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=case.pk, rendered_at__isnull=False)
    url = f"/documents/{doc.pk}/"
    for name in ("handler_a", "head_a", "inspector", "leader"):
        client = Client()
        client.force_login(getattr(world, name))
        # then: the case page links it and the download is the stored file
        assert url in client.get(case.get_absolute_url()).content.decode(), name
        response = client.get(url)
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == doc.sha256
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "attachment;" in response["Content-Disposition"]
    # and while a record is still pending, its page says so instead of linking it
    ArchivedDocument.objects.filter(pk=doc.pk).update(rendered_at=None)
    client = Client()
    client.force_login(world.handler_a)
    page = client.get(case.get_absolute_url()).content.decode()
    assert url not in page
    with translation.override("zh-hans"):
        assert gettext("%(title)s: being prepared") % {"title": gettext("Closing record (PDF)")} in page
    assert client.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="access_denied").exists()
    # and unit B's handler gets a 404, on the record
    other = Client()
    other.force_login(world.handler_b)
    assert other.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_b.pk,
                                     data__target="document").exists()


@needs_postgres
@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
@pytest.mark.django_db(transaction=True)
def test_archive__a_real_worker_renders_the_record_after_commit(on_broker, workers, store):
    # given: a Celery worker on a private Redis, storing documents where this test looks
    worker = workers.start("documents", DUBAN_DOCUMENT_ROOT=str(store))
    world = make_world()
    case = _accepted(world)
    # when: the leader signs off (the job is published after commit, from a thread)
    drive(world, case, ("leader", "sign_off"))
    # then: the worker renders and stores it
    doc = wait_until(lambda: ArchivedDocument.objects.filter(case_id=case.pk, rendered_at__isnull=False).first(),
                     90, interval=0.2, message="the worker archived the closing record")
    [path] = _stored(store)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == doc.sha256
    assert worker.received(archive_documents.name) >= 1
    assert worker.failures() == []
