"""Stored files (evidence, archived documents), through Django's storage API.

`STORAGES["evidence"]` and `STORAGES["documents"]` (config/settings/base.py) are a
`WholeFileStorage` on the file system by default, or django-storages' S3 backend. Everything
that stores, reads, checks, backs up or restores these files goes through the helpers here,
which use only what both offer: save, open, exists, delete, listdir and size. Stored names
come from the rows' UUIDs (`Evidence.storage_name`, `ArchivedDocument.storage_name`) and a
stored file is never replaced.
"""
import hashlib
import logging
import os
import posixpath
import tempfile
from collections.abc import Iterator

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

logger = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class WholeFileStorage(FileSystemStorage):
    """The file system, written whole: a file is written to a temporary name beside its
    place and linked there once complete, so a reader never sees half of one, and a name
    already taken is never replaced (the storage then picks another name, as Django's does).

    `root_setting` names the setting that holds the folder (EVIDENCE_ROOT, DOCUMENT_ROOT);
    it is read at each use, so a changed setting moves the store. Nothing here has a URL:
    files are served only through the application's permission checks."""

    def __init__(self, location=None, *, root_setting: str = "", file_permissions_mode=0o640, **options):
        super().__init__(location=location, file_permissions_mode=file_permissions_mode, **options)
        self.root_setting = root_setting

    @property
    def base_location(self):
        if self._location is not None:
            return self._location
        return str(getattr(settings, self.root_setting))

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Stored evidence and documents have no URL; they are served by the application.")

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".write-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, self.file_permissions_mode)
            while True:
                try:
                    os.link(tmp, full_path)  # fails, atomically, if the name is taken
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
        finally:
            os.unlink(tmp)
        return os.path.relpath(full_path, self.location).replace("\\", "/")


def evidence_storage():
    return storages["evidence"]


def document_storage():
    return storages["documents"]


def describe(storage) -> str:
    """Where a storage keeps its files, for messages: a folder, or s3://bucket/prefix."""
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        return f"s3://{bucket}/{getattr(storage, 'location', '')}".rstrip("/")
    return str(getattr(storage, "location", type(storage).__name__))


def save_new(storage, name: str, content) -> bool:
    """Store `content` (bytes or a File) under exactly `name` unless that name is taken.
    True when stored here; False when a file is already there, which is kept as it is."""
    if isinstance(content, bytes):
        content = ContentFile(content)
    if storage.exists(name):
        return False
    saved = storage.save(name, content)
    if saved != name:  # taken meanwhile: the storage chose another name, and the first file stands
        discard(storage, saved)
        return False
    return True


def discard(storage, name: str) -> bool:
    """Delete a stored file that no row will point to. A storage that cannot be reached is
    logged, not raised: the file is then an orphan, which `check_evidence` lists."""
    try:
        storage.delete(name)
        return True
    except Exception:  # noqa: BLE001 - the caller's own error is the one to report
        logger.exception("could not delete stored file %s from %s; it is left as an orphan", name, describe(storage))
        return False


def read(storage, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        return handle.read()


def digest(storage, name: str) -> tuple[str, int]:
    """SHA-256 and size of a stored file, read in chunks. FileNotFoundError if it is missing."""
    sha, size = hashlib.sha256(), 0
    with storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def walk(storage, path: str = "") -> Iterator[str]:
    """Every stored file's name under `path`, folders before their files' siblings."""
    try:
        directories, names = storage.listdir(path)
    except FileNotFoundError:  # a file system store that was never written to
        return
    for directory in sorted(directories):
        yield from walk(storage, posixpath.join(path, directory))
    for name in sorted(names):
        yield posixpath.join(path, name)


def sha256_of(path) -> str:
    """The SHA-256 of a local file (a backup's parts), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
