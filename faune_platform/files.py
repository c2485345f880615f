"""Plain file helpers shared by every app (no Django here: engine code, ingest and benches import
it too)."""

import hashlib
from pathlib import Path

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (photographs, videos and model weights alike)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
