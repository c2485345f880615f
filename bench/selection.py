"""Selection at pool scale: time and peak memory to pick 1,000 items from 1,000,000 embeddings held
in memory (reading them from the database is not timed here) (width 1280,
synthetic clustered data, 40-class predictions, sequences of 1-8 frames) with the default strategy
(hybrid), against a plain numpy k-center greedy over the same candidates in the same run.

The numpy baseline costs one full pass over the pool per pick, so it is timed on --baseline-picks
picks and scaled to 1,000 (its cost per pick is constant); the printed line says so.
Usage: python bench/selection.py [--n 1000000] [--picks 1000] [--baseline-picks 20] [--labels N]
Target (issue 5): under 10 s, and at least 10x faster than the baseline."""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from bench.similarity import WIDTH, clustered  # noqa: E402
from inference.engine.selection import Pool, select  # noqa: E402

LABELLED_SAMPLE = 20_000  # what inference/services/selection.py passes at most


def numpy_kcenter(vectors: np.ndarray, picks: int) -> list[int]:
    nearest = np.full(len(vectors), np.inf, dtype=np.float32)
    chosen = []
    for _ in range(picks):
        index = int(np.argmax(nearest)) if chosen else 0
        chosen.append(index)
        nearest = np.minimum(nearest, 2.0 - 2.0 * (vectors @ vectors[index]))
    return chosen


def _label_counts(rng: np.random.Generator, total: int | None) -> np.ndarray:
    if total is None:
        return rng.integers(0, 5000, 40)
    return np.bincount(rng.integers(0, 40, total), minlength=40)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--picks", type=int, default=1000)
    parser.add_argument("--baseline-picks", type=int, default=20)
    parser.add_argument(
        "--labels",
        type=int,
        help="labelled images in the pool (default about 100,000); a young "
        "pool (e.g. 400) makes hybrid explore part of the batch",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # As the service passes them: a sample of at most LABELLED_SAMPLE labelled embeddings, from the
    # same cameras and species as the pool.
    sample = min(args.labels or LABELLED_SAMPLE, LABELLED_SAMPLE)
    drawn = clustered(args.n + sample)
    vectors, labelled = drawn[: args.n], drawn[args.n :]
    logits = rng.normal(scale=2.0, size=(args.n, 40)).astype(np.float32)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    sequences = np.repeat(np.arange(args.n), rng.integers(1, 9, args.n))[: args.n]
    pool = Pool(
        ids=np.arange(args.n),
        embeddings=vectors,
        probabilities=probabilities,
        sequences=sequences,
        labelled=labelled,
        rarity=_label_counts(rng, args.labels),
    )
    print(f"{args.n:,} embeddings of width {WIDTH}, {sequences.max() + 1:,} sequences")
    timings = []
    for repeat in range(3):
        start = time.perf_counter()
        picked = select(pool, "hybrid", args.picks, seed=repeat)
        timings.append(time.perf_counter() - start)
        print(f"repeat {repeat}: hybrid picked {len(picked.ids)} in {timings[-1]:.2f} s")
    start = time.perf_counter()
    numpy_kcenter(vectors, args.baseline_picks)
    per_pick = (time.perf_counter() - start) / args.baseline_picks
    baseline = per_pick * args.picks
    value = float(np.median(timings))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"numpy k-center greedy: {per_pick:.3f} s a pick, {baseline:.1f} s for {args.picks} picks "
        f"(timed on {args.baseline_picks}); peak RSS {peak_mb:.0f} MB (the pool itself is "
        f"{vectors.nbytes / 1e9:.1f} GB)"
    )
    print(
        json.dumps(
            {
                "metric": "selection_seconds",
                "value": round(value, 2),
                "unit": "s",
                "baseline": round(baseline, 1),
                "ratio": round(value / baseline, 4),
                "peak_rss_mb": round(peak_mb),
                "n": args.n,
                "picks": args.picks,
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
