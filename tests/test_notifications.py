"""Notification channels: preferences, retries with backoff, failed rows an admin retries, the bell."""
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from workflow.trail import notify
from workflow.models import Notification, OutboxMessage, User
from workflow.trail.sms import LocmemSmsBackend
from tests.factories import make_case


@pytest.fixture(autouse=True)
def clear_sms():
    LocmemSmsBackend.outbox.clear()


def test_channels__each_user_gets_the_channels_they_chose(world):
    # given
    world.handler_a.email, world.handler_a.phone, world.handler_a.notify_sms = "h@example.gov.cn", "13800000000", True
    world.handler_a.save()
    world.head_a.email, world.head_a.notify_email = "head@example.gov.cn", False
    world.head_a.save()
    # when: a case is issued to unit A (the handler is told) and delivered
    case = make_case(world)
    notify.relay()
    # then
    channels = set(OutboxMessage.objects.filter(case=case, recipient=world.handler_a).values_list("channel", flat=True))
    assert channels == {"in_app", "email", "sms"}
    assert Notification.objects.filter(user=world.handler_a, case=case).count() == 1
    assert [m.to for m in mail.outbox] == [["h@example.gov.cn"]]
    assert LocmemSmsBackend.outbox and LocmemSmsBackend.outbox[0][0] == "13800000000"


def test_queue__same_key_twice_sends_once(world):
    case = make_case(world)
    who = [("handler", case.unit_id)]
    first = notify.queue(case=case, who=who, subject="s", key="k1")
    second = notify.queue(case=case, who=who, subject="s", key="k1")
    assert (first, second) == (1, 0)
    assert OutboxMessage.objects.filter(key__startswith="k1:").count() == 1


@override_settings(DUBAN_SMS_BACKEND="workflow.trail.sms.LocmemSmsBackend", DUBAN_RETRY_BASE_SECONDS=60)
def test_retry__backoff_then_a_visible_failed_row_an_admin_can_retry(world, admin_client):
    # given: SMS to a user without a phone number always fails
    world.handler_a.notify_sms = True
    world.handler_a.phone = "138"
    world.handler_a.save()
    case = make_case(world)
    msg = OutboxMessage.objects.get(case=case, channel="sms")
    msg.recipient.phone = ""
    msg.recipient.save()
    waits = []
    # when: the relay runs each time the backoff has passed
    for _ in range(notify.MAX_ATTEMPTS):
        OutboxMessage.objects.filter(pk=msg.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        notify.relay()
        msg.refresh_from_db()
        if msg.failed_at is None:
            waits.append(round((msg.next_attempt_at - before).total_seconds() / 60))
    # then: 1, 2, 4, 8 minutes, then failed after the last try, with the error kept
    assert waits == [1, 2, 4, 8]
    assert msg.failed_at is not None and msg.sent_at is None and "phone" in msg.last_error
    # and an administrator can put it back in the queue
    assert notify.retry_failed(OutboxMessage.objects.filter(pk=msg.pk)) == 1
    msg.refresh_from_db()
    assert msg.failed_at is None and msg.attempts == 0


def _outbox_admin(world, client):
    from django.contrib.auth.models import Permission

    world.admin.is_staff = True
    world.admin.save()
    world.admin.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_outboxmessage", "change_outboxmessage"]))
    client.force_login(world.admin)
    return client


def test_retry__the_admin_action_puts_back_only_failed_rows(world, client):
    # given: three emails to the handler: one failed, one being sent under another worker's
    # lease, one waiting out its backoff
    world.handler_a.email = "h@example.gov.cn"
    world.handler_a.save()
    for n in range(2):
        notify.queue(case=make_case(world), who=[("handler", world.county_a.pk)], subject="督办提醒", key=f"r{n}")
    now = timezone.now()
    OutboxMessage.objects.update(sent_at=now)  # everything else went out already
    failed, leased, waiting = OutboxMessage.objects.filter(channel="email").order_by("pk")[:3]
    OutboxMessage.objects.filter(pk__in=[failed.pk, leased.pk, waiting.pk]).update(sent_at=None)
    OutboxMessage.objects.filter(pk=failed.pk).update(attempts=notify.MAX_ATTEMPTS, failed_at=now, last_error="boom")
    OutboxMessage.objects.filter(pk=leased.pk).update(attempts=1, next_attempt_at=now + timedelta(minutes=5))
    OutboxMessage.objects.filter(pk=waiting.pk).update(attempts=2, next_attempt_at=now + timedelta(minutes=2),
                                                       last_error="timeout")
    others = OutboxMessage.objects.filter(pk__in=[leased.pk, waiting.pk], sent_at__isnull=True)
    before = {m.pk: (m.attempts, m.next_attempt_at) for m in others.all()}
    # when: an administrator selects all three and chooses "Retry delivery"
    response = _outbox_admin(world, client).post("/admin/workflow/outboxmessage/", {
        "action": "retry", "_selected_action": [failed.pk, leased.pk, waiting.pk]})
    # then: only the failed row was put back, and the relay the action starts sent it; the
    # others keep their lease and their backoff, unsent
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.failed_at is None and failed.sent_at is not None and failed.attempts == 1
    assert {m.pk: (m.attempts, m.next_attempt_at) for m in others.all()} == before  # a fresh query
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 2 and len(mail.outbox) == 1


def test_admin_lists_failed_deliveries(world, client):
    case = make_case(world)
    OutboxMessage.objects.filter(case=case).update(failed_at=timezone.now(), last_error="boom")
    page = _outbox_admin(world, client).get("/admin/workflow/outboxmessage/?delivery=failed")
    assert page.status_code == 200 and page.context["cl"].result_count == OutboxMessage.objects.filter(case=case).count()
    assert case.number not in page.content.decode()  # who and how, not what


def test_bell__unread_count_open_and_mark_read(world, client):
    # given
    case = make_case(world)
    notify.relay()
    client.force_login(world.handler_a)
    # then: the bell shows one unread
    assert '<span class="badge">1</span>' in client.get("/inbox/").content.decode()
    note = Notification.objects.get(user=world.handler_a)
    # when: opened (POST), it is read and leads to the case
    response = client.post(f"/notifications/{note.pk}/open/")
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
    note.refresh_from_db()
    assert note.read_at is not None
    assert 'class="badge"' not in client.get("/inbox/").content.decode()
    # and someone else's notification is not theirs to open
    client.force_login(world.handler_b)
    assert client.post(f"/notifications/{note.pk}/open/").status_code == 404


def test_channel_settings_page_saves_choices(world, client):
    client.force_login(world.handler_a)
    response = client.post("/notifications/channels/", {"phone": "13800000000", "notify_in_app": "on",
                                                        "notify_sms": "on"})
    assert response.status_code == 302
    world.handler_a.refresh_from_db()
    assert (world.handler_a.notify_in_app, world.handler_a.notify_email, world.handler_a.notify_sms) == (True, False, True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks across connections")
@pytest.mark.django_db(transaction=True)
def test_relay__a_row_of_someone_another_relay_is_serving_is_still_delivered(world, monkeypatch):
    # given: two rows for the same person; another relay is delivering the first (it holds
    # that row, and its in-app insert holds a key-share lock on the person)
    monkeypatch.setattr(notify, "enqueue_relay", lambda: None)  # relays run only when this test says
    case = make_case(world)
    notify.queue(case=case, who=[("handler", world.county_a.pk)], subject="再次提醒", key="again")
    rows = list(OutboxMessage.objects.filter(recipient=world.handler_a, sent_at__isnull=True).order_by("pk"))
    assert len(rows) == 2
    holding, release = threading.Event(), threading.Event()

    def other_relay():
        with transaction.atomic():
            OutboxMessage.objects.select_for_update(of=("self",)).filter(pk=rows[0].pk).first()
            with connection.cursor() as cursor:  # the lock its in-app insert's foreign-key check takes
                cursor.execute(f"SELECT 1 FROM {User._meta.db_table} WHERE id = %s FOR KEY SHARE", [world.handler_a.pk])
            holding.set()
            release.wait(10)
        connection.close()

    other = threading.Thread(target=other_relay)
    other.start()
    assert holding.wait(10)
    try:
        # when: this relay runs meanwhile
        delivered = notify.relay()
    finally:
        release.set()
        other.join(10)
    # then: it skipped only the row the other relay holds, and delivered the second
    assert delivered == 1
    rows[1].refresh_from_db()
    assert rows[1].sent_at is not None
