"""Stored files (evidence, archived documents) are written whole or not at all."""
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write a stored file whole or not at all: a reader never sees half of one. With
    `replace=False` a file already at `path` is kept as it is and False returned (two writers
    racing: the first one stored wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".write-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o640)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails, atomically, if the name is taken
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
