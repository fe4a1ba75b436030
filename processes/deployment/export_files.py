"""The matter's downloads built by the worker when the matter is large (exports.py decides):
one stored file per matter, document, period and day, rendered once and handed to whoever
asks for it that day.

A request for a large download writes the row (one per matter, document, period and day: a
second request finds it) and queues the rendering after commit; while the row waits, the
request gets a page that refreshes itself. The worker renders the file, stores it in the
document store under the row's id, marks the row rendered and deletes the same download of
earlier days. A rendering that failed is queued again by the next request, a message the
broker lost once the row has waited STALE_AFTER; after MAX_ATTEMPTS failures the page says
so. A file gone from the store (a restored backup does not hold these) is built again.
"""
import logging
from datetime import timedelta

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from workflow.storage import files

from .models import MAX_ATTEMPTS, ExportFile  # noqa: F401 - both named here for the callers

logger = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=15)   # queued that long ago and not rendered: queued again


def ask(matter, kind: str, period: str, day) -> ExportFile:
    """The row of this download, written if new; queued for the worker (after commit) when new,
    or when it has waited too long unrendered. Two requests at once write one row and queue it
    once: the row is unique, and queuing again claims it by a conditional update."""
    export, created = ExportFile.objects.get_or_create(matter=matter, kind=kind, period=period, day=day,
                                                       defaults={"queued_at": timezone.now()})
    if created:
        _queue(export)
        return export
    if export.rendered_at is not None or export.failed:
        return export
    now = timezone.now()
    if export.queued_at is None or export.queued_at < now - STALE_AFTER:
        claimed = ExportFile.objects.filter(pk=export.pk, rendered_at__isnull=True).filter(
            Q(queued_at__isnull=True) | Q(queued_at=export.queued_at)).update(queued_at=now)
        if claimed:
            export.queued_at = now
            _queue(export)
    return export


def _queue(export):
    pk = str(export.pk)

    def send():
        from .tasks import render_export

        try:
            render_export.apply_async((pk,), retry=False)
        except Exception as exc:  # noqa: BLE001 - broker down: the next request after STALE_AFTER queues it again
            logger.warning("broker unavailable; download %s not queued: %r", pk, exc)

    transaction.on_commit(send)


def render(pk: str, build) -> bool:
    """The worker's part: build the file (`build(export)` gives its bytes and extension), store
    it under the row's id and mark the row rendered. Idempotent: a rendered row is left alone,
    and of two workers rendering one row at once the first to finish is kept. A failure is
    written on the row (queued_at cleared, so the next request queues it again)."""
    export = ExportFile.objects.select_related("matter").filter(pk=pk).first()
    if export is None or export.rendered_at is not None:
        return False
    try:
        data, ext = build(export)
    except Exception as exc:  # noqa: BLE001 - written on the row; the next request retries
        logger.exception("download %s could not be rendered", pk)
        ExportFile.objects.filter(pk=pk, rendered_at__isnull=True).update(
            attempts=models.F("attempts") + 1, last_error=repr(exc)[:2000], queued_at=None)
        return False
    storage = files.document_storage()
    name = f"exports/{export.pk.hex[:2]}/{export.pk.hex}.{ext}"
    if not files.save_new(storage, name, data):   # a second rendering: the first file stands
        return False
    marked = ExportFile.objects.filter(pk=pk, rendered_at__isnull=True).update(
        rendered_at=timezone.now(), stored_name=name, size=len(data), last_error="")
    if marked:
        _prune(export)
    return bool(marked)


def _prune(export):
    """The same download of earlier days, superseded by this one: their files and rows go, so a
    matter keeps one file per document and period."""
    storage = files.document_storage()
    older = ExportFile.objects.filter(matter_id=export.matter_id, kind=export.kind, period=export.period,
                                      day__lt=export.day)
    for old in older:
        if old.stored_name:
            files.discard(storage, old.stored_name)
        old.delete()


def open_file(export):
    """The stored file, open for reading; or None when it is gone (a backup restored without
    the downloads, which it does not keep): the row is then queued again, as new."""
    storage = files.document_storage()
    try:
        if storage.exists(export.stored_name):
            return storage.open(export.stored_name, "rb")
    except FileNotFoundError:
        pass
    reset = ExportFile.objects.filter(pk=export.pk, rendered_at=export.rendered_at).update(
        rendered_at=None, stored_name="", size=0, attempts=0, last_error="", queued_at=timezone.now())
    if reset:
        _queue(export)
    export.rendered_at = None
    return None
