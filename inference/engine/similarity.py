"""FAISS indexes of embeddings: exact inner product while the pool is small, an inverted file
of 8-bit quantised vectors beyond (about 1.3 KB a vector at width 1280, so a million fit in
under 2 GB).

Vectors are L2-normalised before they enter, so inner product is cosine similarity."""

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 100_000  # past this many vectors an exact scan gets slow; switch to IVF


@dataclass(frozen=True)
class Neighbours:
    ids: np.ndarray  # (queries, k) int64, -1 where fewer than k exist
    scores: np.ndarray  # (queries, k) cosine similarity


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = vectors / np.clip(norms, 1e-12, None)  # numpy types norm() as Any
    return unit


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def exact(cls, dim: int) -> "VectorIndex":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def approximate(cls, training: np.ndarray, *, nprobe: int = 32, seed: int = 0) -> "VectorIndex":
        """IVF with 8-bit scalar quantisation, trained on (a sample of) the vectors it will hold."""
        count, dim = training.shape
        nlist = int(min(16384, max(16, math.sqrt(count))))  # ~1,000 lists for a million vectors
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = training
        if count > 48 * nlist:  # k-means needs ~40 points a centroid, not the whole pool
            rows = np.random.default_rng(seed).choice(count, 48 * nlist, replace=False)
            sample = training[np.sort(rows)]
        index.train(normalise(sample))
        index.nprobe = min(nprobe, nlist)
        return cls(index)

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, *, exact_limit: int = EXACT_LIMIT
    ) -> "VectorIndex":
        built = cls.exact(vectors.shape[1]) if len(ids) <= exact_limit else cls.approximate(vectors)
        built.add(ids, vectors)
        return built

    @property
    def kind(self) -> str:
        return "exact" if isinstance(self.index, faiss.IndexIDMap2) else "ivf-sq8"

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.remove(ids)  # re-adding an id replaces it, so updates stay idempotent
            self.index.add_with_ids(normalise(vectors), np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        # faiss's stubs declare an IDSelector only; its Python wrapper takes an array of ids as well
        self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, queries: np.ndarray, k: int, *, nprobe: int | None = None) -> Neighbours:
        """The k most similar stored vectors of each query. `nprobe` (inverted files only): lists
        visited, fewer for a rougher, faster search; passed per call, so threads sharing the index
        never see each other's."""
        params = None
        if nprobe and self.kind != "exact":
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
        scores, ids = self.index.search(normalise(queries), k, params=params)
        return Neighbours(ids=ids, scores=scores)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(temporary))
        temporary.replace(path)  # readers never see a half-written index

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        return cls(faiss.read_index(str(path)))
