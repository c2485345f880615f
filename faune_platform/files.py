"""Plain file helpers shared by every app (no Django here: engine code, ingest and benches import
it too)."""

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (photographs, videos and model weights alike)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def held_exclusively(lock: Path) -> Iterator[None]:
    """An exclusive lock on the file `lock` (made if missing), waited for: one holder at a time
    among this machine's processes (and other machines', where their shared disk honours flock)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
