"""Queueing notifications as outbox rows (inside the caller's transaction) and delivering them.

A subject is stored as a message (an English message id and its parameters, see ``message``)
and written in each recipient's own language when delivered. Delivery runs outside any long
transaction: an in-app row is delivered under its row lock in one short transaction; an email
or SMS row is first leased (its ``next_attempt_at`` moved past the lease, in a short
transaction), then sent with no transaction open, then marked sent. A worker that dies while
sending leaves the row to be retried once the lease has run out: at least once. Each attempt
is counted when it starts, so after MAX_ATTEMPTS (failed or cut off) the row is kept as failed
for an administrator to retry.
"""
import json
import logging
import threading
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext

from workflow.trail import leases
from workflow.storage import sql as statements
from workflow.models import Notification, OutboxMessage, User
from workflow.trail.sms import get_sms_backend

logger = logging.getLogger(__name__)
Channel = OutboxMessage.Channel
MAX_ATTEMPTS = 5
PUBLISH_INTERVAL = 0.25


def message(text, **params) -> dict:
    """A subject to be written later in each reader's language: `text` is an English message
    id (marked with gettext_noop or gettext_lazy), `params` its plain values (strings, numbers)
    or lazily translated labels, which are translated too."""
    with translation.override(None):  # no catalogue: lazy strings give their message ids
        return {"text": str(text),
                "params": {k: {"text": str(v)} if isinstance(v, Promise) else v for k, v in params.items()}}


def render(msg: dict, language: str | None = None) -> str:
    """The message in `language` (a language the site offers; else the default one)."""
    if language not in {code for code, _name in settings.LANGUAGES}:
        language = settings.LANGUAGE_CODE
    with translation.override(language):
        params = {k: gettext(v["text"]) if isinstance(v, dict) else v for k, v in msg.get("params", {}).items()}
        text = gettext(msg["text"])
        return text % params if params else text


# One INSERT ... SELECT writes the rows for a batch of events: each event (key, case,
# subject, message, the user who made it) and the (role, unit) it is for, joined with the
# users holding that role there (or, for the role "named", the one user whose id stands for
# the unit: see declaration.NAMED_ROLE) and the channels each of them chose, leaving out the
# user who made the event (nobody is told of their own act). No user row is read into Python.
# A person reached twice by one event (by two of its (role, unit) pairs) makes the same key
# twice: the second is dropped by ON CONFLICT, so each person is told once per event.
QUEUE_SQL = """
INSERT INTO {outbox} (key, channel, recipient_id, case_id, subject, message, body, created_at, attempts,
                      next_attempt_at, last_error)
WITH ev(key, case_id, subject, message, actor_id, role, unit_id) AS (VALUES {events})
SELECT ev.key || ':' || CAST(u.id AS TEXT) || ':' || c.channel, c.channel, u.id, CAST(ev.case_id AS BIGINT), ev.subject,
       {message}, '', %s, 0, %s, ''
FROM ev
JOIN {user} u ON (u.role = ev.role AND u.unit_id = ev.unit_id) OR (ev.role = 'named' AND u.id = ev.unit_id)
CROSS JOIN (SELECT 'in_app' AS channel UNION ALL SELECT 'email' UNION ALL SELECT 'sms') c
WHERE u.is_active AND u.id <> CAST(ev.actor_id AS BIGINT)
  AND ((c.channel = 'in_app' AND u.notify_in_app)
       OR (c.channel = 'email' AND u.notify_email AND u.email <> '')
       OR (c.channel = 'sms' AND u.notify_sms AND u.phone <> ''))
ON CONFLICT (key) DO NOTHING
"""
BATCH = 500


def queue(*, case, who, subject, key: str, actor=None) -> int:
    """Write one outbox row per holder of each (role, unit id) in `who` and each channel they
    chose, except `actor` (the user whose act this is, if any: nobody is told of their own
    act). `subject` is a ``message(...)`` (or a fixed text). Duplicate keys are ignored, so
    queueing the same event twice sends nothing twice, and a person reached through two of
    the pairs is told once. The relay runs after commit."""
    return queue_many([(case, who, key, subject)], actor=actor)


def queue_many(items, actor=None) -> int:
    """queue() for many events, `items` being (case, who, key, subject), all made by `actor`:
    one statement per batch of events, whatever the number of recipients. Returns the rows
    written; inside a pipelined transaction (workflow.sql), where the count is not known yet,
    the number of (event, role and unit) pairs instead."""
    events = []
    actor_id = getattr(actor, "pk", actor) or 0  # 0: no user has it, so nobody is left out
    for case, who, key, subject in items:
        msg = subject if isinstance(subject, dict) else message(subject)
        fixed = (key, getattr(case, "pk", None), render(msg)[:200], json.dumps(msg, ensure_ascii=False), actor_id)
        events += [(*fixed, role, unit_id) for role, unit_id in sorted(set(who))]
    conn = transaction.get_connection()
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    written = 0
    for start in range(0, len(events), BATCH):
        batch = events[start:start + BATCH]
        sql = QUEUE_SQL.format(events=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(batch)),
                               message="CAST(ev.message AS jsonb)" if conn.vendor == "postgresql" else "ev.message",
                               outbox=conn.ops.quote_name(OutboxMessage._meta.db_table),
                               user=conn.ops.quote_name(User._meta.db_table))
        with statements.cursor() as cursor:
            cursor.execute(sql, [v for event in batch for v in event] + [now, now])
            # Pipelined (see workflow.sql), the count is not known yet: relay anyway.
            written += cursor.rowcount if cursor.rowcount >= 0 else len(batch)
    if written:
        transaction.on_commit(enqueue_relay)
    return written


# Background tasks (in workflow.tasks) published after commit, and what the log calls them.
TASKS = {"relay_outbox": "outbox relay", "archive_documents": "document archiving"}


class _Publisher:
    """One background thread per process that asks the worker to run a task (relay the
    outbox, archive documents).

    Commits only set a flag, so a web request never waits on the broker (a broker outage
    included), and a burst of commits becomes one message per task. The beat's periodic
    tasks catch up on anything published while the broker was away."""

    def __init__(self):
        self.wanted = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.thread = None
        self.lock = threading.Lock()
        self.tasks: set[str] = set()

    def request(self, task_name: str):
        with self.lock:
            self.tasks.add(task_name)
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
            with self.lock:
                names, self.tasks = self.tasks, set()
            for name in sorted(names):
                publish(name)
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


def publish(task_name: str = "relay_outbox"):
    from workflow import tasks

    try:
        getattr(tasks, task_name).apply_async(retry=False)
    except Exception as exc:  # noqa: BLE001 - broker down; the beat's periodic run catches up
        logger.warning("broker unavailable; %s deferred: %r", TASKS[task_name], exc)


def enqueue(task_name: str):
    """Called after commit: run the task soon, without waiting for the broker."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        publish(task_name)
    else:
        _publisher.request(task_name)


def enqueue_relay():
    """Called after commit: relay the outbox soon, without waiting for the broker."""
    enqueue("relay_outbox")


def subject_for(msg: OutboxMessage) -> str:
    """The row's subject in its recipient's language."""
    if not msg.message:
        return msg.subject
    return render(msg.message, msg.recipient.language)[:200]


def deliver(msg: OutboxMessage):
    """Deliver one row on its channel. In-app delivery is idempotent by key."""
    subject = subject_for(msg)
    if msg.channel == Channel.IN_APP:
        try:
            with transaction.atomic():
                Notification.objects.create(key=msg.key, user=msg.recipient, case_id=msg.case_id, message=subject)
        except IntegrityError:
            pass  # delivered by an earlier, interrupted run
    elif msg.channel == Channel.EMAIL:
        send_mail(subject, msg.body or subject, settings.DEFAULT_FROM_EMAIL, [msg.recipient.email])
    elif msg.channel == Channel.SMS:
        get_sms_backend().send(msg.recipient.phone, subject)


def relay(limit=500) -> int:
    """Deliver due rows, each on its own, in short transactions. Returns rows delivered."""
    due = list(_pending().filter(next_attempt_at__lte=timezone.now()).order_by("next_attempt_at")
               .values_list("pk", "channel")[:limit])
    return sum(_deliver_in_app(pk) if channel == Channel.IN_APP else _deliver_leased(pk) for pk, channel in due)


def _pending():
    return OutboxMessage.objects.filter(sent_at__isnull=True, failed_at__isnull=True)


# Sending under a lease (workflow.leases): after the last attempt a row is kept as failed, for
# an administrator to retry.
SENDING = leases.Leased(_pending, max_attempts=MAX_ATTEMPTS, give_up=lambda now: {"failed_at": now})


def _deliver_in_app(pk) -> int:
    """Delivery is a database write: made, and the row marked sent, in one transaction (so the
    attempt is counted with its outcome; a worker that dies here leaves nothing behind)."""
    with transaction.atomic():
        # Lock the row alone: locking the joined recipient too would make two relays skip
        # each other's rows for the same person, and leave some behind for both.
        msg = leases.lock_due(_pending().select_related("recipient"), pk)
        if msg is None:
            return 0  # another worker has it
        msg.attempts += 1
        try:
            with transaction.atomic():
                deliver(msg)
        except Exception as exc:  # noqa: BLE001 - kept on the row for an administrator
            SENDING.failed(msg, exc, attempts=msg.attempts)
            return 0
        _sent(msg, attempts=msg.attempts)
    return 1


def _deliver_leased(pk) -> int:
    """Email and SMS leave the system: lease the row (its attempt counted), send with no
    transaction open (a slow mail server holds no lock), then mark it sent."""
    msg = SENDING.take(pk, _pending().select_related("recipient"))
    if msg is None:
        return 0  # another worker has it, or holds its lease
    try:
        deliver(msg)
    except Exception as exc:  # noqa: BLE001 - kept on the row for an administrator
        SENDING.failed(msg, exc)
        return 0
    _sent(msg)
    return 1


def _sent(msg: OutboxMessage, **fields):
    # A send that outlived its lease may finish after its row was given up: it was sent all the same.
    OutboxMessage.objects.filter(pk=msg.pk, sent_at__isnull=True).update(sent_at=timezone.now(), failed_at=None,
                                                                         **fields)


def retry_failed(queryset) -> int:
    """Put failed rows back in the queue (the admin's "retry" action). A pending row is left as
    it is: one a worker is sending (under its lease) or one waiting out its backoff."""
    return queryset.filter(sent_at__isnull=True, failed_at__isnull=False).update(
        failed_at=None, attempts=0, next_attempt_at=timezone.now())
