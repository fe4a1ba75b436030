"""Queueing notifications as outbox rows (inside the caller's transaction) and delivering them."""
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import sql as statements
from .models import Notification, OutboxMessage, User
from .sms import get_sms_backend

logger = logging.getLogger(__name__)
Channel = OutboxMessage.Channel
MAX_ATTEMPTS = 5
PUBLISH_INTERVAL = 0.25


def recipients(case, pairs) -> list[tuple[str, int]]:
    """(role, unit id) for each (role, "unit" | "supervisor"): the case's responsible or supervising unit."""
    return [(role, case.unit_id_for(where)) for role, where in pairs]


# One INSERT ... SELECT writes the rows for a batch of events: each event (key, case,
# subject) and the (role, unit) it is for, joined with the users holding that role there and
# the channels each of them chose. No user row is read into Python.
QUEUE_SQL = """
INSERT INTO {outbox} (key, channel, recipient_id, case_id, subject, body, created_at, attempts,
                      next_attempt_at, last_error)
WITH ev(key, case_id, subject, role, unit_id) AS (VALUES {events})
SELECT ev.key || ':' || CAST(u.id AS TEXT) || ':' || c.channel, c.channel, u.id, ev.case_id, ev.subject, '',
       %s, 0, %s, ''
FROM ev
JOIN {user} u ON u.role = ev.role AND u.unit_id = ev.unit_id
CROSS JOIN (SELECT 'in_app' AS channel UNION ALL SELECT 'email' UNION ALL SELECT 'sms') c
WHERE u.is_active
  AND ((c.channel = 'in_app' AND u.notify_in_app)
       OR (c.channel = 'email' AND u.notify_email AND u.email <> '')
       OR (c.channel = 'sms' AND u.notify_sms AND u.phone <> ''))
ON CONFLICT (key) DO NOTHING
"""
BATCH = 500


def queue(*, case, who, subject: str, key: str) -> int:
    """Write one outbox row per holder of each (role, unit id) in `who` and each channel they
    chose. Duplicate keys are ignored, so queueing the same event twice sends nothing twice.
    The relay runs after commit."""
    return queue_many([(case, who, key, subject)])


def queue_many(items) -> int:
    """queue() for many events, `items` being (case, who, key, subject): one statement per
    batch of events, whatever the number of recipients. Returns the rows written; inside a
    pipelined transaction (workflow.sql), where the count is not known yet, the number of
    (event, role and unit) pairs instead."""
    events = [(key, getattr(case, "pk", None), subject[:200], role, unit_id)
              for case, who, key, subject in items for role, unit_id in sorted(set(who))]
    conn = transaction.get_connection()
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    written = 0
    for start in range(0, len(events), BATCH):
        batch = events[start:start + BATCH]
        sql = QUEUE_SQL.format(events=", ".join(["(%s, %s, %s, %s, %s)"] * len(batch)),
                               outbox=conn.ops.quote_name(OutboxMessage._meta.db_table),
                               user=conn.ops.quote_name(User._meta.db_table))
        with statements.cursor() as cursor:
            cursor.execute(sql, [v for event in batch for v in event] + [now, now])
            # Pipelined (see workflow.sql), the count is not known yet: relay anyway.
            written += cursor.rowcount if cursor.rowcount >= 0 else len(batch)
    if written:
        transaction.on_commit(enqueue_relay)
    return written


class _Publisher:
    """One background thread per process that asks the worker to relay the outbox.

    Commits only set a flag, so a web request never waits on the broker (a broker outage
    included), and a burst of commits becomes one message. The beat's periodic relay
    catches up on anything published while the broker was away."""

    def __init__(self):
        self.wanted = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.thread = None
        self.lock = threading.Lock()

    def request(self):
        self.idle.clear()
        self.wanted.set()
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self.run, name="outbox-publisher", daemon=True)
                    self.thread.start()

    def run(self):
        while True:
            self.wanted.wait()
            self.wanted.clear()
            publish()
            # One message covers every commit so far; commits in the next moment share the
            # next one, so a busy server sends a few messages a second, not one per commit.
            time.sleep(PUBLISH_INTERVAL)
            if not self.wanted.is_set():
                self.idle.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is waiting to be published (for tests and shutdown)."""
        return self.idle.wait(timeout)


_publisher = _Publisher()
wait_for_publisher = _publisher.wait_idle


def publish():
    from .tasks import relay_outbox

    try:
        relay_outbox.apply_async(retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down; the beat relay will drain the outbox
        logger.warning("broker unavailable; outbox relay deferred: %r", exc)


def enqueue_relay():
    """Called after commit: relay the outbox soon, without waiting for the broker."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        publish()
    else:
        _publisher.request()


def deliver(msg: OutboxMessage):
    """Deliver one row on its channel. In-app delivery is idempotent by key."""
    if msg.channel == Channel.IN_APP:
        try:
            with transaction.atomic():
                Notification.objects.create(key=msg.key, user=msg.recipient, case_id=msg.case_id,
                                            message=msg.subject[:200])
        except IntegrityError:
            pass  # delivered by an earlier, interrupted run
    elif msg.channel == Channel.EMAIL:
        send_mail(msg.subject, msg.body or msg.subject, settings.DEFAULT_FROM_EMAIL, [msg.recipient.email])
    elif msg.channel == Channel.SMS:
        get_sms_backend().send(msg.recipient.phone, msg.subject)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, settings.DUBAN_RETRY_BASE_SECONDS * 2 ** (attempts - 1)))


def relay(limit=500) -> int:
    """Deliver due rows, each in its own transaction under a row lock. Returns rows delivered."""
    now = timezone.now()
    ids = list(OutboxMessage.objects.filter(sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    delivered = 0
    for pk in ids:
        with transaction.atomic():
            # Lock the row alone: locking the joined recipient too would make two relays skip
            # each other's rows for the same person, and leave some behind for both.
            msg = (OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",)).select_related("recipient")
                   .filter(pk=pk, sent_at__isnull=True, failed_at__isnull=True).first())
            if msg is None:
                continue  # another worker has it
            msg.attempts += 1
            try:
                deliver(msg)
            except Exception as exc:  # noqa: BLE001 - kept on the row for an administrator
                msg.last_error = repr(exc)[:2000]
                if msg.attempts >= MAX_ATTEMPTS:
                    msg.failed_at = timezone.now()
                else:
                    msg.next_attempt_at = timezone.now() + backoff(msg.attempts)
                msg.save(update_fields=["attempts", "last_error", "failed_at", "next_attempt_at"])
                continue
            msg.sent_at = timezone.now()
            msg.save(update_fields=["attempts", "sent_at"])
            delivered += 1
    return delivered


def retry_failed(queryset) -> int:
    """Put failed rows back in the queue (the admin's "retry" action)."""
    return queryset.filter(sent_at__isnull=True).update(failed_at=None, attempts=0, next_attempt_at=timezone.now())
