"""Background jobs. Each is idempotent: a second run of the same work changes nothing."""
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notification, OutboxMessage

MAX_ATTEMPTS = 5


@shared_task(acks_late=True)
def relay_outbox(limit=500):
    """Deliver unsent outbox rows: the in-app notification (unique by key) and email."""
    delivered = 0
    ids = list(OutboxMessage.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        with transaction.atomic():
            msg = (OutboxMessage.objects.select_for_update().select_related("recipient")
                   .filter(pk=pk, sent_at__isnull=True).first())
            if msg is None:
                continue  # another worker delivered it
            try:
                deliver(msg)
            except Exception as exc:  # noqa: BLE001 - kept on the row for an admin to see
                msg.attempts += 1
                msg.last_error = repr(exc)[:2000]
                msg.save(update_fields=["attempts", "last_error"])
                continue
            msg.sent_at = timezone.now()
            msg.attempts += 1
            msg.save(update_fields=["sent_at", "attempts"])
            delivered += 1
    return delivered


def deliver(msg: OutboxMessage):
    try:
        with transaction.atomic():
            Notification.objects.create(key=msg.key, user=msg.recipient, case_id=msg.case_id,
                                        message=msg.subject[:200])
    except IntegrityError:
        pass  # already delivered in an earlier, interrupted run
    if msg.recipient.email:
        send_mail(msg.subject, msg.body or msg.subject, settings.DEFAULT_FROM_EMAIL, [msg.recipient.email])
