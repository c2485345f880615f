"""Reading stored media through Django's storage API, so object storage (S3 through
django-storages) works.

Decoders and video readers want a file on disk. On local storage that is the stored file itself; on
storage without local paths, a copy: a temporary one for a single read (pre-labelling), or a cached
one for work that reads the same files many times (fine-tuning epochs). Stored names carry the
file's hash, so a cached copy never goes stale."""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db.models.fields.files import FieldFile


@contextmanager
def local_file(stored: FieldFile) -> Iterator[Path]:
    """A path to read `stored` from, valid inside the block."""
    local = _local_path(stored)
    if local is not None:
        yield local
        return
    with tempfile.NamedTemporaryFile(suffix=Path(_name(stored)).suffix) as copy:
        _copy_into(stored, copy)
        yield Path(copy.name)


def cached_local_file(stored: FieldFile) -> Path:
    """A path to read `stored` from that stays valid: the file itself, or a copy kept
    under DATA_DIR/cache."""
    local = _local_path(stored)
    if local is not None:
        return local
    cached = Path(settings.DATA_DIR) / "cache" / "media" / _name(stored)
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as partial:
            _copy_into(stored, partial)
        Path(partial.name).replace(
            cached
        )  # whole or absent: a crash mid-copy leaves no truncated image
    return cached


def _name(stored: FieldFile) -> str:
    """The stored name; a field without a file has nothing to read."""
    if stored.name is None:
        raise ValueError("This field holds no stored file.")
    return stored.name


def _local_path(stored: FieldFile) -> Path | None:
    try:
        return Path(stored.storage.path(_name(stored)))
    except NotImplementedError:  # object storage: no path on this machine
        return None


def _copy_into(stored: FieldFile, sink: IO[bytes]) -> None:
    with stored.storage.open(_name(stored), "rb") as source:
        shutil.copyfileobj(source, sink)
    sink.flush()
