"""Background jobs. Each is idempotent: running it twice, or on two workers at once,
changes nothing the first run did not."""
from celery import shared_task

from workflow.documents import archive as documents
from workflow.cases import escalation
from workflow.trail import notify
from workflow.kernel import tokens


@shared_task(acks_late=True)
def relay_outbox(limit=500):
    """Deliver pending outbox rows (in-app, email, SMS)."""
    return notify.relay(limit=limit)


@shared_task(acks_late=True)
def escalation_sweep():
    """Fire every escalation rung that has fallen due."""
    return escalation.sweep()


@shared_task(acks_late=True)
def archive_documents(limit=50):
    """Render the archived documents still pending (after a state change, and retries)."""
    return documents.archive_pending(limit=limit)


@shared_task(acks_late=True)
def prune_form_tokens():
    """Forget old one-time form tokens."""
    return tokens.prune()
