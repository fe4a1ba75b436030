"""Writing records beside cases (workflow.models.Record): each creation or change is one
transaction with its audit event on the record's own chain and its outbox rows."""
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from workflow.documents.archive import queue_record_archives
from workflow.trail import audit, notify
from workflow.cases.engine import Actor, NotVisible
from workflow.kernel.errors import ActionError


def create_record(model, *, actor: Actor, unit, action: str = "create", data=None, tell=(), message=None,
                  archive=(), addressed: bool = False, **fields):
    """Create a record of `model` for `unit` (which the actor must see), audited on its chain.
    `tell` are (role, unit id) pairs told about it through the outbox, with `message` (the
    notification's subject; named apart from the record's own fields, which may have a `subject`);
    `archive` names the record's documents (archive_for_records) to archive.

    An `addressed` record is sent to `unit` from outside it: by someone who does not see that
    unit (a report to the unit above), or by nobody signed in (``actor.user`` None; its event
    then names no user). The caller has checked that it may be sent there."""
    from workflow.models.units import can_see_unit

    if not addressed and (actor.user is None or not can_see_unit(actor.user, unit)):
        raise ActionError(_("No such unit, or you may not see it."))
    with transaction.atomic():
        record = model.objects.create(unit=unit, created_by=actor.user, **fields)
        event = audit.record(action=action, user=actor.user, on=record, ip=actor.ip, data=data or {})
        if tell:
            notify.queue(case=record.case, who=list(tell), key=audit.event_key(event), subject=message,
                         actor=actor.user)
        if archive:
            queue_record_archives(record, archive)
    return record


@contextmanager
def changing(model, pk, *, actor: Actor, action: str):
    """Lock one record the actor may see and yield it; the caller changes it and saves it,
    and may set ``.data``, ``.reason``, ``.tell`` and ``.archive`` on the handle. The audit event follows in the same
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
                             subject=change.subject, actor=actor.user)
            if change.archive:
                queue_record_archives(record, change.archive)
    except (NotVisible, RecordDenied) as exc:
        audit.record(**exc.audit)
        raise


class RecordDenied(PermissionDenied):
    """The user sees the record but may not do this to it. Audited on the record's chain after rollback."""

    def __init__(self, actor: Actor, *, action: str, record, message: str):
        super().__init__(message)
        self.audit = dict(action=action, user=actor.user, on=record, outcome="denied", ip=actor.ip)


class RecordChange:
    """What a change to a record reports for its audit event and who is told of it."""

    def __init__(self, record):
        self.record = record
        self.data: dict = {}
        self.reason = ""
        self.tell: list = []
        self.subject = None
        self.archive: list[str] = []  # names of the record's documents to archive
