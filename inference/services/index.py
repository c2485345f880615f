"""The FAISS index of each backbone, kept on disk under the data dir and updated as
embeddings arrive.

Writers take a file lock, so several workers never interleave a load-add-save."""

from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
from django.conf import settings

from faune_platform.files import held_exclusively
from inference.engine.similarity import EXACT_LIMIT, VectorIndex
from inference.engine.stored import from_f16_bytes
from inference.models import Embedding


def index_path(backbone_key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in backbone_key)
    return Path(settings.DATA_DIR) / "faiss" / f"{safe}.index"


def _locked(backbone_key: str) -> AbstractContextManager[None]:
    return held_exclusively(index_path(backbone_key).with_suffix(".lock"))


def load_index(backbone_key: str) -> VectorIndex | None:
    """A fresh copy from disk, for writers that add to it."""
    path = index_path(backbone_key)
    return VectorIndex.load(path) if path.exists() else None


# Per file: (inode, mtime in ns, size) when it was read, and the index read.
_read_cache: dict[str, tuple[tuple[int, int, int], VectorIndex]] = {}


def search_index(backbone_key: str) -> VectorIndex | None:
    """The index for searching, read from disk once per process and again only when a writer
    replaced the file (saves replace it whole, so its inode and mtime change): pages ask for
    neighbours on every view, and the file is about 1.3 GB per million images. Never add to it:
    writers take `load_index` under the lock."""
    path = index_path(backbone_key)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _read_cache.get(str(path))
    if cached is None or cached[0] != stamp:
        cached = (stamp, VectorIndex.load(path))
        _read_cache[str(path)] = cached
    return cached[1]


def stored_vectors(backbone_key: str, *, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of every stored embedding of a backbone, read in chunks."""
    ids, vectors = [], []
    rows = (
        Embedding.objects.filter(backbone_key=backbone_key)
        .order_by("id")
        .values_list("image_id", "vector")
    )
    for image_id, vector in rows.iterator(chunk_size=chunk):
        ids.append(image_id)
        vectors.append(from_f16_bytes(vector))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.array(ids, dtype=np.int64), np.stack(vectors)


def index_rebuild(backbone_key: str) -> VectorIndex | None:
    """None: no embedding of the backbone is stored, so there is nothing to index."""
    with _locked(backbone_key):
        ids, vectors = stored_vectors(backbone_key)
        index = VectorIndex.build(ids, vectors) if len(ids) else None
        if index is not None:
            index.save(index_path(backbone_key))
        return index


def index_add(backbone_key: str, *, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Add a job's new vectors in one load-add-save. If the index and the database disagree
    afterwards (a job killed after storing embeddings but before this call), rebuild it from the
    database instead."""
    with _locked(backbone_key):
        index = load_index(backbone_key)
        if index is None:
            index = VectorIndex.exact(vectors.shape[1])
        outgrown = index.kind == "exact" and index.size + len(ids) > EXACT_LIMIT
        if not outgrown:
            index.add(ids, vectors)
        if outgrown or index.size != Embedding.objects.filter(backbone_key=backbone_key).count():
            index = VectorIndex.build(*stored_vectors(backbone_key))
        index.save(index_path(backbone_key))
