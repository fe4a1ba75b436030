"""Background jobs. Each is idempotent: running it twice, or on two workers at once,
changes nothing the first run did not."""
from celery import shared_task

from . import escalation, notify


@shared_task(acks_late=True)
def relay_outbox(limit=500):
    """Deliver pending outbox rows (in-app, email, SMS)."""
    return notify.relay(limit=limit)


@shared_task(acks_late=True)
def escalation_sweep():
    """Fire every escalation rung that has fallen due."""
    return escalation.sweep()
