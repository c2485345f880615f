"""Retraining a head at pool scale: time and peak memory of split + head training + evaluation on 100,000
labelled synthetic embeddings of the default width (1280) and 40 long-tailed classes, against scikit-learn's
LogisticRegression on the same arrays in the same run (pip install -e '.[bench]').

Usage: python bench/retrain.py [--n 100000] [--classes 40] [--kind linear]
Target (issue 4): under 60 s, and macro-F1 no worse than the baseline's.
Covered here: the engine part of a round (split by sequence and camera, class-weighted head with early stopping
and temperature calibration, full evaluation). Not yet: the database snapshot and version registration."""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from training.engine.heads import HeadConfig, head_logits, train_head  # noqa: E402
from training.engine.metrics import evaluate, macro_f1  # noqa: E402
from training.engine.splits import HOLDOUT, TEST, TRAIN, VALIDATION, assign_split  # noqa: E402

WIDTH = 1280


def synthetic_pool(n: int, classes: int, seed: int = 0):
    """Long-tailed classes, burst sequences of near-identical frames, cameras with their own backgrounds."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, classes + 1) ** 1.1
    class_means = rng.normal(scale=0.12, size=(classes, WIDTH)).astype(np.float32)  # hard: heavy overlap
    camera_shift = rng.normal(scale=0.8, size=(300, WIDTH)).astype(np.float32)
    features, labels, sequences, cameras = [], [], [], []
    count, sequence = 0, 0
    while count < n:
        size = int(min(rng.integers(1, 9), n - count))
        label, camera = rng.choice(classes, p=weights / weights.sum()), int(rng.integers(0, 300))
        base = class_means[label] + camera_shift[camera] + rng.normal(scale=1.2, size=WIDTH)
        features.append(base + rng.normal(scale=0.4, size=(size, WIDTH)))
        labels += [label] * size
        sequences += [sequence] * size
        cameras += [camera] * size
        count, sequence = count + size, sequence + 1
    x = np.concatenate(features).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.array(labels), np.array(sequences), np.array(cameras)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--kind", default="linear", choices=["linear", "mlp"])
    args = parser.parse_args()
    x, y, sequences, cameras = synthetic_pool(args.n, args.classes)
    print(f"{len(y):,} embeddings of width {WIDTH}, {args.classes} classes (largest {np.bincount(y).max():,}, "
          f"smallest {np.bincount(y).min():,}), {sequences.max() + 1:,} sequences")

    start = time.perf_counter()
    side = np.array([assign_split(str(s), str(c)) for s, c in zip(sequences, cameras, strict=True)])
    head = train_head((x[side == TRAIN], y[side == TRAIN]), (x[side == VALIDATION], y[side == VALIDATION]),
                      args.classes, HeadConfig(kind=args.kind))
    test = side == TEST
    report = evaluate(y[test], head_logits(head, x[test]), [f"c{i}" for i in range(args.classes)],
                      temperature=head.temperature, sequence_ids=sequences[test])
    holdout = evaluate(y[side == HOLDOUT], head_logits(head, x[side == HOLDOUT]),
                       [f"c{i}" for i in range(args.classes)], temperature=head.temperature)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"round: {elapsed:.1f} s, best epoch {head.best_epoch}, T={head.temperature:.2f}; test macro-F1 "
          f"{report['macro_f1']:.4f}, accuracy {report['accuracy']:.4f}, ECE {report['ece']:.4f}, "
          f"sequence accuracy {report['sequence_accuracy']:.4f}; held-out cameras macro-F1 {holdout['macro_f1']:.4f}")

    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    baseline = LogisticRegression(max_iter=300).fit(x[side == TRAIN], y[side == TRAIN])
    baseline_f1 = macro_f1(y[test], baseline.predict(x[test]))
    baseline_s = time.perf_counter() - start
    print(f"scikit-learn LogisticRegression: {baseline_s:.1f} s, test macro-F1 {baseline_f1:.4f}; "
          f"peak RSS {peak_mb:.0f} MB")
    print(json.dumps({"metric": "retrain_round_seconds", "value": round(elapsed, 2), "unit": "s",
                      "baseline": round(baseline_s, 2), "ratio": round(elapsed / baseline_s, 3),
                      "macro_f1": report["macro_f1"], "baseline_macro_f1": round(baseline_f1, 5),
                      "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
