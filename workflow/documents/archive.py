"""Numbered documents and documents archived when a case reaches a state.

Numbers: each issuing unit numbers each kind of document per year (督办函〔2026〕7号) from
one counter row, incremented in a single statement in the transaction that records the
document (``next_number``): concurrent issuers wait for each other's row, so numbers are
distinct and consecutive, and a rolled-back document gives its number back.

Archives: a process declares which documents are archived when its cases reach a state
(``archive_on``), or which documents its records beside cases have (``archive_for_records``),
archived when a record's creation or change asks for them. The state change writes one pending row per document in its own
transaction (``queue_archives``, unique per case and document); after commit the worker
renders it (``archive_pending``, workflow.tasks.archive_documents), stores the PDF in
``STORAGES["documents"]`` (workflow.files) with its SHA-256 and marks the row archived. A
rendering that fails leaves the row pending with its error, retried with backoff by the
beat: a case never reaches the state with nothing archived and nothing pending. A stored
file is never replaced, so the SHA-256 on the row is that of the file.
"""
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from workflow.kernel import registry
from workflow.storage import files, sql
from workflow.trail import leases, notify
from workflow.models import ArchivedDocument, DocumentCounter

logger = logging.getLogger(__name__)


# Numbering -------------------------------------------------------------------------------
def next_number(unit, kind: str, year: int) -> int:
    """The next number of `kind` issued by `unit` in `year`, counted in the caller's
    transaction (which must also record the document)."""
    table = sql.quote(DocumentCounter._meta.db_table)
    with transaction.atomic(savepoint=False), sql.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (unit_id, kind, year, last) VALUES (%s, %s, %s, 1) "
                       f"ON CONFLICT (unit_id, kind, year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
                       [unit.pk, kind, year])
        return cursor.fetchone()[0]


# Archived documents ------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """A document a process archives: `name` is its key within the case type, `title` what
    the case page calls it, `template` the PDF template rendered with `context(case)`,
    `filename(case)` the name it is downloaded under."""

    name: str
    title: str
    template: str
    context: Callable
    filename: Callable


_archived: dict[tuple[str, str], list[Document]] = {}


def archive_on(case_type: str, state: str, document: Document):
    """Declare that `document` is archived when a case of `case_type` enters `state`."""
    registry.register_document(case_type, document)
    listed = _archived.setdefault((case_type, str(state)), [])
    if document not in listed:
        listed.append(document)


def archive_for_records(model, document: Document):
    """Declare `document` for the records of `model` (a workflow.models.Record): it is archived
    when a record's creation or change asks for it (records.create_record/changing, `archive`)."""
    registry.register_document(model._meta.label_lower, document)


def queue_record_archives(record, names) -> int:
    """Write a pending row for each named document of `record`, in the caller's transaction
    (the record's change); the worker renders them after commit. One row per record and document."""
    from django.contrib.contenttypes.models import ContentType

    key = record._meta.label_lower
    unknown = [name for name in names if registry.document(key, name) is None]
    if unknown:
        raise LookupError(f"no document {unknown} is declared for {key} records")
    record_type = ContentType.objects.get_for_model(record)
    ArchivedDocument.objects.bulk_create(
        [ArchivedDocument(record_type=record_type, record_id=record.pk, name=name) for name in names],
        ignore_conflicts=True)
    transaction.on_commit(lambda: notify.enqueue("archive_documents"))
    return len(names)


def declared(case_type: str, name: str) -> Document | None:
    return registry.document(case_type, document_name=name)


def queue_archives(cases) -> int:
    """Write a pending row for each document declared for each case's current state, in the
    caller's transaction (the state change's); the worker renders them after commit."""
    rows = [(case.pk, doc.name) for case in cases for doc in _archived.get((case.case_type, case.status), ())]
    if not rows:
        return 0
    conn = transaction.get_connection()
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    id_field = ArchivedDocument._meta.pk
    table = sql.quote(ArchivedDocument._meta.db_table)
    sql.execute(f"INSERT INTO {table} (id, case_id, name, created_at, attempts, next_attempt_at, last_error, size, "
                "sha256) VALUES " + ", ".join(["(%s, %s, %s, %s, 0, %s, '', 0, '')"] * len(rows))
                + " ON CONFLICT (case_id, name) DO NOTHING",
                [v for case_id, name in rows
                 for v in (id_field.get_db_prep_save(uuid.uuid4(), conn), case_id, name, now, now)])
    transaction.on_commit(lambda: notify.enqueue("archive_documents"))
    return len(rows)


def store_new(name: str, data: bytes) -> bool:
    """Store a rendered document under `name` in the document store, unless a file is there
    already (kept as it is): True if stored here."""
    return files.save_new(files.document_storage(), name, data)


def _pending():
    return ArchivedDocument.objects.filter(rendered_at__isnull=True)


def archive_pending(limit: int = 50) -> int:
    """Render the pending documents that are due. Returns how many were archived."""
    due = list(_pending().filter(next_attempt_at__lte=timezone.now()).order_by("next_attempt_at")
               .values_list("pk", flat=True)[:limit])
    return sum(archive(pk) for pk in due)


# Rendering under a lease (workflow.leases): a rendering that fails, or whose worker dies,
# leaves the row pending, retried with backoff (a closed case's record is never given up).
ARCHIVING = leases.Leased(_pending)


def archive(pk) -> int:
    """Render and store one document if it is still pending and due: 1 if archived here.

    The row is leased in a short transaction and rendered with no transaction open. The file's
    name comes from the row and a stored file is never replaced: a second run (after a lease
    that ran out) that finds the file stored keeps it, and records that one."""
    doc = ARCHIVING.take(pk, _pending().select_related("case"))
    if doc is None:
        return 0  # archived already, or another worker is on it
    try:
        data = render(doc)
        if not store_new(doc.storage_name, data):
            data = files.read(files.document_storage(), doc.storage_name)  # an earlier run's file stands
    except Exception as exc:  # noqa: BLE001 - the row stays pending with the error; the beat retries
        logger.exception("archiving %s of %s failed; it will be retried", doc.name, doc.case_id or doc.record_id)
        ARCHIVING.failed(doc, exc)
        return 0
    return _pending().filter(pk=pk).update(rendered_at=timezone.now(), last_error="", size=len(data),
                                           sha256=hashlib.sha256(data).hexdigest())


def render(doc: ArchivedDocument) -> bytes:
    from workflow.documents.pdf import render_pdf
    from workflow.kernel.registry import CASE_TYPES

    declaration = doc.declaration
    if declaration is None:
        raise LookupError(f"no document {doc.name!r} is declared for {doc.owner_key!r}")
    if doc.case_id is None:
        owner = doc.record_type.model_class().objects.select_related("unit", "case").get(pk=doc.record_id)
    else:
        owner = CASE_TYPES[doc.case.case_type].objects.select_related(
            "unit", "supervisor_unit", "created_by").get(pk=doc.case_id)
    return render_pdf(declaration.template, declaration.context(owner))


