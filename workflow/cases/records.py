"""Writing records beside cases (workflow.models.Record): each creation or change is one
transaction with its audit event on the record's own chain and its outbox rows."""
from contextlib import contextmanager

from django.db import transaction
from django.utils.translation import gettext as _

from workflow.trail import audit, notify
from workflow.cases.engine import Actor, NotVisible
from workflow.kernel.errors import ActionError


def create_record(model, *, actor: Actor, unit, action: str = "create", data=None, tell=(), subject=None, **fields):
    """Create a record of `model` for `unit` (which the actor must see), audited on its chain.
    `tell` are (role, unit id) pairs told about it through the outbox, with `subject`."""
    from workflow.models.units import can_see_unit

    if not can_see_unit(actor.user, unit):
        raise ActionError(_("No such unit, or you may not see it."))
    with transaction.atomic():
        record = model.objects.create(unit=unit, created_by=actor.user, **fields)
        event = audit.record(action=action, user=actor.user, on=record, ip=actor.ip, data=data or {})
        if tell:
            notify.queue(case=record.case, who=list(tell), key=audit.event_key(event), subject=subject)
    return record


@contextmanager
def changing(model, pk, *, actor: Actor, action: str):
    """Lock one record the actor may see and yield it; the caller changes it and saves it,
    and may ``.event_data`` and ``.tell`` on the handle. The audit event follows in the same
    transaction. A record the actor may not see is a 404 with a denied-access event."""
    try:
        with transaction.atomic():
            record = model.objects.select_for_update(of=("self",)).select_related("unit").filter(pk=pk).first()
            if record is None or not record.seen_by(actor.user):
                raise NotVisible(actor, action=action, target=model._meta.label_lower, object_id=pk)
            change = RecordChange(record)
            yield change
            event = audit.record(action=action, user=actor.user, on=record, ip=actor.ip, data=change.data,
                                 reason=change.reason)
            if change.tell:
                notify.queue(case=record.case, who=list(change.tell), key=audit.event_key(event),
                             subject=change.subject)
    except NotVisible as exc:
        audit.record(**exc.audit)
        raise


class RecordChange:
    """What a change to a record reports for its audit event and who is told of it."""

    def __init__(self, record):
        self.record = record
        self.data: dict = {}
        self.reason = ""
        self.tell: list = []
        self.subject = None
