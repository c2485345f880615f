"""Retraining at pool scale: time and peak memory of a full round (database snapshot of the current
labels, split by sequence and camera, class-weighted head with early stopping and temperature
calibration, evaluation with plots, candidate registration) on 100,000 labelled synthetic
embeddings of the default width (1280) and 40 long-tailed classes stored in a throw-away SQLite
pool, against scikit-learn's LogisticRegression fitted on the same training arrays in the same run
(pip install -e '.[bench]').

Usage: python bench/retrain.py [--n 100000] [--classes 40] [--kind linear]
Target (issue 4): under 60 s, and macro-F1 no worse than the baseline's."""

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
from training.engine.metrics import macro_f1  # noqa: E402
from training.engine.splits import TEST, TRAIN, split_of  # noqa: E402

WIDTH = 1280


def synthetic_pool(
    n: int, classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Long-tailed classes, burst sequences of near-identical frames, cameras with their
    own backgrounds."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, classes + 1) ** 1.1
    class_means = rng.normal(scale=0.12, size=(classes, WIDTH)).astype(
        np.float32
    )  # hard: heavy overlap
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


def fill_pool(x, y, sequences, cameras, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Write the synthetic pool as the platform stores it: images in sequences and cameras, an
    embedding of the production backbone each, one expert label each. Classes are new taxa, as a
    coordinator would add them. Returns each image's sequence and camera database ids: the round
    splits on those."""
    from annotation.models import (
        Annotation,
        Deployment,
        Image,
        LabelSource,
        Sequence,
        Taxon,
        UploadBatch,
    )
    from annotation.services.organisations import organisation_get_or_create
    from inference.models import Embedding
    from inference.services.registry import default_version_ensure

    key = default_version_ensure().backbone_key
    organisation, _ = organisation_get_or_create(name="bench")
    batch = UploadBatch.objects.create(organisation=organisation)
    taxa = Taxon.objects.bulk_create(
        Taxon(slug=f"bench-{i}", name_en=f"bench {i}", name_fr=f"banc {i}") for i in range(classes)
    )
    cams = Deployment.objects.bulk_create(
        Deployment(organisation=organisation, name=f"cam {i}")
        for i in range(int(cameras.max()) + 1)
    )
    seqs = Sequence.objects.bulk_create(
        Sequence(organisation=organisation, deployment=cams[cameras[i]])
        for i in np.unique(sequences, return_index=True)[1]
    )
    images = Image.objects.bulk_create(
        (
            Image(
                organisation=organisation,
                deployment=cams[cameras[i]],
                batch=batch,
                sequence=seqs[sequences[i]],
                file=f"bench/{i}.jpg",
                original_name=f"{i}.jpg",
                sha256=f"{i:064d}",
                bytes=1,
                width=1,
                height=1,
            )
            for i in range(len(y))
        ),
        batch_size=5000,
    )
    Embedding.objects.bulk_create(
        (
            Embedding(image=image, backbone_key=key, vector=x[i].astype(np.float16).tobytes())
            for i, image in enumerate(images)
        ),
        batch_size=5000,
    )
    labels = Annotation.objects.bulk_create(
        (
            Annotation(image=image, taxon=taxa[y[i]], role="expert", source=LabelSource.EXPERT)
            for i, image in enumerate(images)
        ),
        batch_size=5000,
    )
    for image, label in zip(
        images, labels, strict=True
    ):  # what the annotation service keeps for each event
        image.current_label, image.current_taxon, image.current_source = (
            label,
            label.taxon,
            label.source,
        )
    Image.objects.bulk_update(
        images, ["current_label", "current_taxon", "current_source"], batch_size=5000
    )
    return np.array([s.pk for s in seqs])[np.unique(sequences, return_inverse=True)[1]], np.array(
        [c.pk for c in cams]
    )[cameras]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--kind", default="linear", choices=["linear", "mlp"])
    args = parser.parse_args()
    x, y, sequences, cameras = synthetic_pool(args.n, args.classes)
    print(
        f"{len(y):,} embeddings of width {WIDTH}, {args.classes} classes (largest "
        f"{np.bincount(y).max():,}, smallest {np.bincount(y).min():,}), {sequences.max() + 1:,} "
        "sequences"
    )
    from bench._django import setup_django

    setup_django()
    start = time.perf_counter()
    sequence_ids, camera_ids = fill_pool(x, y, sequences, cameras, args.classes)
    print(f"pool written to SQLite in {time.perf_counter() - start:.1f} s")

    from training.models import TrainingRound
    from training.services.round_run import training_round_run
    from training.services.rounds import training_round_start

    start = time.perf_counter()
    training_round = training_round_start(user=None, params={"head": args.kind}, queue=False)
    training_round_run(training_round.pk)
    elapsed = time.perf_counter() - start
    done = TrainingRound.objects.get(pk=training_round.pk)
    assert done.status == "done", done.log[-2000:]
    report = done.metrics["candidate"]["test"]
    holdout = done.metrics["candidate"].get("holdout_deployments", {})
    peak_mb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )  # includes building the synthetic pool
    print(
        f"full round: {elapsed:.1f} s; test macro-F1 {report['macro_f1']:.4f}, accuracy "
        f"{report['accuracy']:.4f}, ECE {report['ece']:.4f}, sequence accuracy "
        f"{report['sequence_accuracy']:.4f}; held-out cameras macro-F1 "
        f"{holdout.get('macro_f1', float('nan')):.4f}; candidate {done.candidate}"
    )

    from sklearn.linear_model import LogisticRegression

    side = np.array(
        [split_of(int(s), int(c)) for s, c in zip(sequence_ids, camera_ids, strict=True)]
    )
    test = side == TEST
    start = time.perf_counter()
    baseline = LogisticRegression(max_iter=300).fit(x[side == TRAIN], y[side == TRAIN])
    baseline_f1 = macro_f1(y[test], baseline.predict(x[test]))
    baseline_s = time.perf_counter() - start
    print(
        f"scikit-learn LogisticRegression on the same training arrays: {baseline_s:.1f} s, test "
        f"macro-F1 {baseline_f1:.4f}; peak RSS {peak_mb:.0f} MB"
    )
    print(
        json.dumps(
            {
                "metric": "retrain_round_seconds",
                "value": round(elapsed, 2),
                "unit": "s",
                "baseline": round(baseline_s, 2),
                "ratio": round(elapsed / baseline_s, 3),
                "macro_f1": report["macro_f1"],
                "baseline_macro_f1": round(baseline_f1, 5),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
