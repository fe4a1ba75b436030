"""Checking, storing and serving evidence files.

A file is accepted only when its name's extension is on the allowlist, its content
sniffs as that same type, and it carries no markup a browser could run. Files go to
`STORAGES["evidence"]` (workflow.files) under their row's UUID, never the user's name,
outside the web root.
"""
import hashlib
import io
import logging
import re
import unicodedata
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from workflow.trail import audit
from workflow.cases import photos, records
from workflow.cases.engine import Actor, AlreadyHandled, Denied, locked_case
from workflow.storage.files import describe, discard, evidence_storage
from workflow.models import Evidence

# extension -> (content type, family)
ALLOWED = {
    "jpg": ("image/jpeg", "jpeg"), "jpeg": ("image/jpeg", "jpeg"), "png": ("image/png", "png"),
    "gif": ("image/gif", "gif"), "webp": ("image/webp", "webp"), "pdf": ("application/pdf", "pdf"),
    "doc": ("application/msword", "ole"), "xls": ("application/vnd.ms-excel", "ole"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "ooxml:word/"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ooxml:xl/"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "ooxml:ppt/"),
}
SIGNATURES = {
    "jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "gif": (b"GIF87a", b"GIF89a"),
    "pdf": (b"%PDF-",), "ole": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), "zip": (b"PK\x03\x04",),
}
ACTIVE_CONTENT = re.compile(rb"<\s*(script|html|body|iframe|svg|object|embed)\b|javascript:|/JavaScript|/JS\s*\(",
                            re.IGNORECASE)
INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
logger = logging.getLogger(__name__)


class EvidenceRejected(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class CheckedFile:
    display_name: str
    extension: str
    content_type: str
    data: bytes


def clean_display_name(name: str) -> str:
    """A safe name to show and offer as the download name: no path, no control or bidi characters."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch) not in INVISIBLE)
    name = name.strip().lstrip(".").strip()
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 140] + dot + ext[:9]) if dot else name[:150]
    return name or "file"


def _family_of(data: bytes) -> str | None:
    for family, signatures in SIGNATURES.items():
        if any(data.startswith(sig) for sig in signatures):
            return family
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_ooxml(data: bytes, prefix: str, *, refuse_macros: bool = False, max_ratio: int | None = None):
    """Refuse a damaged or hostile Office file from its zip central directory alone (nothing is
    extracted): too many parts, too large once expanded, a content that is not `prefix`'s
    family, embedded programs. Importers that read the file's content also refuse macros
    (`refuse_macros`) and any part over 1 MB compressed more than `max_ratio` times (a zip bomb
    that stays under the total)."""
    limit_bytes = settings.EVIDENCE_MAX_UNZIPPED_BYTES
    limit_entries = settings.EVIDENCE_MAX_ZIP_ENTRIES
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()  # reads the central directory only; nothing is extracted
    except (zipfile.BadZipFile, ValueError, OSError):
        raise EvidenceRejected(_("The office document is damaged and cannot be opened."))
    if len(entries) > limit_entries:
        raise EvidenceRejected(_("The office document has too many parts (more than %(n)d).") % {"n": limit_entries})
    if sum(e.file_size for e in entries) > limit_bytes:
        raise EvidenceRejected(_("The office document expands to more than %(mb)d MB and was refused.")
                               % {"mb": limit_bytes // (1024 * 1024)})
    if max_ratio and any(e.file_size > 1024 * 1024 and e.file_size > max_ratio * max(e.compress_size, 1)
                         for e in entries):
        raise EvidenceRejected(_("The office document is compressed suspiciously tightly (a zip bomb) and was refused."))
    names = {e.filename for e in entries}
    if refuse_macros and any("vbaproject" in n.lower() for n in names):
        raise EvidenceRejected(_("The office document contains macros and was refused."))
    if "[Content_Types].xml" not in names or not any(n.startswith(prefix) for n in names):
        raise EvidenceRejected(_("The file's content does not match its extension."))
    if any(n.lower().endswith((".js", ".html", ".htm", ".exe", ".bin")) and "vbaProject" not in n for n in names):
        raise EvidenceRejected(_("The office document contains embedded programs or web pages."))


def _check_image(data: bytes, family: str):
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            fmt = (image.format or "").lower()
    except Exception:
        raise EvidenceRejected(_("The image is damaged and cannot be opened."))
    if fmt.replace("jpg", "jpeg") != family:
        raise EvidenceRejected(_("The file's content does not match its extension."))


def _too_large():
    limit = filesizeformat(settings.EVIDENCE_MAX_BYTES)
    return EvidenceRejected(_("The file is larger than %(limit)s; please compress it or split it.") % {"limit": limit},
                            status=413)


def check_size(upload):
    """Refuse a file over the size limit (413) before anything reads it."""
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        raise _too_large()


def inspect_upload(upload) -> CheckedFile:
    """Validate an uploaded file. Raises EvidenceRejected with a message for the user."""
    check_size(upload)
    max_bytes = settings.EVIDENCE_MAX_BYTES
    raw_name = upload.name or ""
    if "\x00" in raw_name:
        raise EvidenceRejected(_("The file name contains invalid characters."))
    display_name = clean_display_name(raw_name)
    extension = display_name.rpartition(".")[2].lower() if "." in display_name else ""
    if extension not in ALLOWED:
        raise EvidenceRejected(_("Only images (JPG, PNG, GIF, WebP), PDF and Office documents are accepted."))
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large()
    if not data:
        raise EvidenceRejected(_("The file is empty."))
    content_type, family = ALLOWED[extension]
    sniffed = _family_of(data)
    expected = "zip" if family.startswith("ooxml:") else family
    if sniffed != expected:
        raise EvidenceRejected(_("The file's content does not match its extension."))
    if family.startswith("ooxml:"):
        check_ooxml(data, family.split(":", 1)[1])
    elif ACTIVE_CONTENT.search(data):
        raise EvidenceRejected(_("The file contains web-page or script content and was refused."))
    if content_type.startswith("image/"):
        _check_image(data, family)
    return CheckedFile(display_name, extension, content_type, data)


def attach_evidence(model, case_id, *, actor: Actor, upload, note: str = "", stage: str = "") -> Evidence:
    """Check, store and record one evidence file on a case.

    The file is checked, hashed and stored under its UUID before the case is locked (reading,
    sniffing and sending it to the store can take a while), but only for a case the user may
    see; the state and role are checked under the lock, where the row and its audit event are
    written. A refusal or a rollback deletes the stored file again; a process killed in
    between leaves a file no row names, which `check_evidence` lists as an orphan."""
    if not model.objects.visible_to(actor.user).filter(pk=case_id).exists():
        with locked_case(model, case_id, actor=actor, action="upload_evidence"):
            pass  # raises the audited 404 for a case the user may not see
    with _stored(upload, actor, note, stage) as evidence:
        with locked_case(model, case_id, actor=actor, action="upload_evidence") as case:
            if not case.may_upload(actor.user, any_state=True):
                raise Denied(actor, action="upload_evidence", case=case)
            if not case.may_upload(actor.user):
                raise AlreadyHandled(_("Evidence can no longer be added in the case's current state."))
            evidence.case = case
            evidence.save(force_insert=True)
            audit.record(action="upload_evidence", user=actor.user, case=case, ip=actor.ip, locked=True,
                         from_state=case.status, to_state=case.status, data=_event_data(evidence))
    return evidence


def attach_record_evidence(model, pk, *, actor: Actor, upload, note: str = "") -> Evidence:
    """Check, store and record one evidence file on a record beside cases (a checklist's
    photo, say), as attach_evidence does on a case: the record is locked and the row and its
    audit event (on the record's chain) are written together. Who may add files is the
    record's ``may_upload``."""
    if not model.objects.visible_to(actor.user).filter(pk=pk).exists():
        with records.changing(model, pk, actor=actor, action="upload_evidence"):
            pass  # raises the audited 404 for a record the user may not see
    with _stored(upload, actor, note) as evidence:
        with records.changing(model, pk, actor=actor, action="upload_evidence") as change:
            if not change.record.may_upload(actor.user):
                raise records.RecordDenied(actor, action="upload_evidence", record=change.record,
                                           message=_("You may not add files to this record."))
            evidence.record = change.record
            evidence.save(force_insert=True)
            change.data = _event_data(evidence)
    return evidence


def _event_data(evidence: Evidence) -> dict:
    return {"evidence": str(evidence.pk), "name": evidence.display_name, "sha256": evidence.sha256,
            "size": evidence.size}


@contextmanager
def _stored(upload, actor: Actor, note: str, stage: str = ""):
    """Check the upload and store it under a new row's UUID; yield the unsaved row for the
    caller to attach and save. A refusal or a rollback in the block deletes the file again."""
    with stored_files([inspect_upload(upload)], uploaded_by=actor.user, note=note, stage=stage) as (evidence,):
        yield evidence


def check_files(uploads, *, max_bytes: int | None = None, images_only: bool = False) -> list[CheckedFile]:
    """Check several uploads before anything is stored: each as inspect_upload does, and, when
    asked, each at most `max_bytes` (a form's own, smaller limit) and an image. The first one
    refused raises EvidenceRejected naming its file."""
    checked = []
    for upload in uploads:
        try:
            if max_bytes is not None and upload.size > max_bytes:
                raise EvidenceRejected(_("The file is larger than %(limit)s; please compress it.")
                                       % {"limit": filesizeformat(max_bytes)}, status=413)
            one = inspect_upload(upload)
            if images_only and not one.content_type.startswith("image/"):
                raise EvidenceRejected(_("Only images (JPG, PNG, GIF, WebP) are accepted."))
        except EvidenceRejected as exc:
            exc.message = _("%(name)s: %(problem)s") % {"name": clean_display_name(upload.name), "problem": exc.message}
            raise
        checked.append(one)
    return checked


@contextmanager
def stored_files(checked: list[CheckedFile], *, uploaded_by, note: str = "", stage: str = ""):
    """Store files already checked, each under a new row's UUID; yield the unsaved rows for
    the caller to attach and save (add_record_files). A refusal or a rollback in the block, or
    a store that fails half way, deletes every file stored. An image also keeps its stage
    (before / after / other), the time and place its camera recorded and its perceptual hash
    (workflow.cases.photos; nothing when unreadable)."""
    storage = evidence_storage()
    rows, stored = [], []
    try:
        for one in checked:
            evidence = _row(one, uploaded_by, note, stage)
            stored.append(_store(storage, evidence, one.data))
            rows.append(evidence)
        yield rows
    except BaseException:
        # Refused, or rolled back (on_commit never hears of a rollback): no row names the files.
        for name in stored:
            discard(storage, name)
        raise


def add_record_files(record, rows, *, actor: Actor):
    """Save stored rows (stored_files) on a record, each with its upload event on the record's
    chain, in the caller's transaction: for a record its creator writes with its files at once
    (who may add them is the caller's check). ``actor.user`` may be None (nobody signed in)."""
    for evidence in rows:
        evidence.record = record
        evidence.save(force_insert=True)
        audit.record(action="upload_evidence", user=actor.user, on=record, ip=actor.ip, data=_event_data(evidence))


def _row(checked: CheckedFile, uploaded_by, note: str, stage: str) -> Evidence:
    evidence = Evidence(uploaded_by=uploaded_by, display_name=checked.display_name,
                        content_type=checked.content_type, extension=checked.extension,
                        size=len(checked.data), sha256=hashlib.sha256(checked.data).hexdigest(),
                        note=(note or "")[:200])
    if evidence.is_image:
        facts = photos.read_photo(checked.data)
        evidence.stage = stage if stage in Evidence.Stage.values else Evidence.Stage.OTHER
        evidence.taken_at, evidence.latitude, evidence.longitude = facts.taken_at, facts.latitude, facts.longitude
        evidence.photo_hash = facts.hash
        for name, value in photos.band_values(facts.hash).items():
            setattr(evidence, name, value)
    return evidence


def _store(storage, evidence: Evidence, data: bytes) -> str:
    try:
        stored = storage.save(evidence.storage_name, ContentFile(data))
    except Exception:  # noqa: BLE001 - the store is down or full: the user may try again
        logger.exception("storing evidence %s in %s failed", evidence.storage_name, describe(storage))
        discard(storage, evidence.storage_name)  # an upload whose answer was lost may have arrived
        raise EvidenceRejected(_("The file could not be stored just now; please try again later."), status=503)
    if stored != evidence.storage_name:  # a UUID already taken: never reuse another row's file
        discard(storage, stored)
        raise RuntimeError(f"evidence name {evidence.storage_name} is taken in the store")
    return stored
