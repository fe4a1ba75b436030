"""Stored files (evidence, archived documents) are written whole or not at all."""
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes):
    """Write a stored file whole or not at all: a reader never sees half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".write-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)
