"""Similarity index at pool scale: build time, query latency and recall@10 of the platform's index
(IVF with 8-bit vectors) on N embeddings of the default backbone's width (1280), against exact
search in the same run; and the index's memory.

Usage: python bench/similarity.py [--n 1000000] [--queries 200]
Target (issue 3): under 2 GB for one million embeddings."""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from inference.engine.similarity import VectorIndex, normalise  # noqa: E402

WIDTH = 1280


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Embeddings with camera-trap-like structure: many tight clusters (sequences, species)
    plus spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5000, WIDTH)).astype(np.float32)
    out = np.empty((n, WIDTH), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        out[start:stop] = centres[rng.integers(0, len(centres), stop - start)]
        out[start:stop] += rng.normal(scale=0.6, size=(stop - start, WIDTH)).astype(np.float32)
    return normalise(out)


def index_bytes(index: VectorIndex) -> int:
    return faiss.serialize_index(index.index).nbytes


def timed_queries(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    latencies, found = [], []
    for row in queries:
        start = time.perf_counter()
        result = index.search(row[None, :], k)
        latencies.append((time.perf_counter() - start) * 1000)
        found.append(result.ids[0] if hasattr(result, "ids") else result[1][0])
    return np.array(found), latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    vectors = clustered(args.n)
    ids = np.arange(args.n, dtype=np.int64)
    print(f"{args.n:,} vectors of width {WIDTH} generated in {time.perf_counter() - start:.1f} s")
    queries = vectors[np.random.default_rng(1).choice(args.n, args.queries, replace=False)]

    start = time.perf_counter()
    exact = VectorIndex.exact(WIDTH)
    exact.add(ids, vectors)
    exact_build = time.perf_counter() - start
    truth, exact_ms = timed_queries(exact, queries, 10)
    exact_size = args.n * (
        WIDTH * 4 + 8
    )  # float32 vectors and their ids; serialising 5 GB just to count it is waste
    del exact

    start = time.perf_counter()
    approximate = VectorIndex.build(ids, vectors, exact_limit=0)
    build = time.perf_counter() - start
    found, approx_ms = timed_queries(approximate, queries, 10)
    size = index_bytes(approximate)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))
    value, baseline = statistics.median(approx_ms), statistics.median(exact_ms)
    print(
        f"exact:  build {exact_build:.1f} s, {exact_size / 1e9:.2f} GB, median query "
        f"{baseline:.2f} ms"
    )
    print(
        f"{approximate.kind}: build {build:.1f} s, {size / 1e9:.2f} GB, median query {value:.2f} "
        f"ms, p95 {np.percentile(approx_ms, 95):.2f} ms, recall@10 {recall:.3f}"
    )
    print(
        json.dumps(
            {
                "metric": "similarity_query_latency_ms",
                "value": round(value, 3),
                "unit": "ms",
                "baseline": round(baseline, 3),
                "ratio": round(value / baseline, 4),
                "index_gb": round(size / 1e9, 3),
                "build_s": round(build, 1),
                "recall_at_10": round(recall, 3),
                "n": args.n,
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
