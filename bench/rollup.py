"""Taxonomic roll-up (issue 10, section 6): how much coverage it adds at equal accuracy.

A round's head (training/engine/heads.py, the rounds' trainer, validation split for early stopping
and the temperature) is trained on the platform's embedding and scored on held-out sequences, every
image tested once (k folds of whole sequences). For each species-only operating point (threshold t:
coverage C, accuracy A), the figure is the best coverage roll-up reaches at any threshold while its
accuracy stays at A or above; a rolled-up answer is right when the true class lies under the taxon
it names.

Data sets:
- missouri_tnc (real frames, ../shared/data/camtrap/missouri_tnc, COCO file, split by seq_id): its 7
  European classes under the platform's seeded tree (deer family over red and roe deer; the rest
  alone in this subset), and all 20 classes under their real families (4 deer, 2 agoutis, a tinamou
  under bird, ...).
- a generated set with a known tree (a subfamily inside a family, two more families, lone species):
  classes of one family share a centre, so the head confuses them with each other far more than with
  the rest.

Usage: python bench/rollup.py [--repeats 2] [--folds 4]. Embeddings are cached in bench/out/ (about
a minute on 2 cores the first time, seconds afterwards)."""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# first: it sets the BLAS kernels before faiss loads
from faune_platform.blas import kernels_report  # noqa: E402

# isort: split
from inference.engine.aggregate import class_probabilities  # noqa: E402
from inference.engine.preprocess import CropRequest  # noqa: E402
from inference.engine.rollup import NO_NODE  # noqa: E402
from training.engine.heads import HeadConfig, head_logits, train_head  # noqa: E402
from training.engine.metrics import coverage_curve, rollup_curve  # noqa: E402
from training.engine.simulation import embed, held_out, labelled_set  # noqa: E402
from training.engine.splits import stable_fraction  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
MISSOURI = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "camtrap" / "missouri_tnc"
)
EUROPEAN = (
    "red_deer",
    "roe_deer",
    "wild_boar",
    "wood_mouse",
    "mouflon",
    "european_hare",
    "red_fox",
)
# Missouri's classes under their taxa. The European ones as the platform seeds them (migration
# 0008): mouflon under caprines under bovids, fox under the dog family; wood mouse (micromammal) and
# hare (lagomorph) alone.
MISSOURI_PARENTS = {
    "red_deer": "Cervidae",
    "roe_deer": "Cervidae",
    "red_brocket_deer": "Cervidae",
    "white_tailed_deer": "Cervidae",
    "mouflon": "Caprinae",
    "Caprinae": "Bovidae",
    "red_fox": "Canidae",
    "ocelot": "Felidae",
    "agouti": "Dasyproctidae",
    "coiban_agouti": "Dasyproctidae",
    "great_tinamou": "bird",
}
REPORTED = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
FINE = tuple(
    round(float(t), 3) for t in np.arange(0.30, 0.9951, 0.005)
)  # where roll-up may operate
DEFAULT_THRESHOLD = 0.8  # DeepFaune's, and the platform's default


@dataclass
class Scored:
    probabilities: np.ndarray  # (n, classes) calibrated, of held-out images
    truth: np.ndarray
    parents: np.ndarray


def parents_of(class_names: list[str], parent_of: dict[str, str]) -> np.ndarray:
    """The engine's tree: the classes first, then the higher taxa above them, as one array of
    parent nodes."""
    nodes, parents = list(class_names), []
    for name in nodes:  # grows while it runs: each new ancestor is visited in turn
        parent = parent_of.get(name)
        if parent is not None and parent not in nodes:
            nodes.append(parent)
        parents.append(NO_NODE if parent is None else nodes.index(parent))
    return np.array(parents, dtype=np.int64)


def folds_of(sequences: np.ndarray, folds: int, repeat: int) -> np.ndarray:
    """Fold of each image: whole sequences, dealt round-robin in an order fixed by a hash of
    their key."""
    salt = "faune-rollup-v1"
    unique = sorted(
        set(sequences.tolist()), key=lambda key: stable_fraction(f"{repeat}:{key}", salt)
    )
    fold_of = {key: rank % folds for rank, key in enumerate(unique)}
    return np.array([fold_of[key] for key in sequences.tolist()])


def cross_scored(
    features: np.ndarray,
    labels: np.ndarray,
    sequences: np.ndarray,
    classes: int,
    folds: int,
    repeats: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out probabilities of every image, once per repeat; the head never saw the
    image's sequence."""
    probabilities, truth = [], []
    for repeat in range(repeats):
        fold = folds_of(sequences, folds, repeat)
        for test_fold in range(folds):
            pool = np.flatnonzero(fold != test_fold)
            validation = pool[held_out(sequences[pool], repeat * folds + test_fold, 0.2)]
            train = np.setdiff1d(pool, validation)
            head = train_head(
                (features[train], labels[train]),
                (features[validation], labels[validation]),
                classes,
                HeadConfig(seed=repeat),
            )
            test = np.flatnonzero(fold == test_fold)
            logits = head_logits(head, features[test])
            probabilities.append(class_probabilities(logits, temperature=head.temperature))
            truth.append(labels[test])
    return np.concatenate(probabilities), np.concatenate(truth)


def curves(scored: Scored, thresholds: tuple[float, ...]) -> list[dict]:
    correct = scored.probabilities.argmax(axis=1) == scored.truth
    species = coverage_curve(scored.probabilities.max(axis=1), correct, thresholds)
    rolled = rollup_curve(scored.probabilities, scored.truth, scored.parents, thresholds)
    return [{**a, **b} for a, b in zip(species, rolled, strict=True)]


def at_equal_accuracy(scored: Scored) -> list[dict]:
    """Per reported threshold: species-only coverage and accuracy, and the best roll-up coverage at
    any threshold whose roll-up accuracy is at least that accuracy."""
    fine = curves(scored, FINE)
    rows = []
    for row in curves(scored, REPORTED):
        floor = row["accuracy"] if row["accuracy"] is not None else 1.0
        reachable = [
            r for r in fine if r["rollup_accuracy"] is not None and r["rollup_accuracy"] >= floor
        ]
        best = max(reachable, key=lambda r: r["rollup_coverage"], default=None)
        rows.append(
            {
                **row,
                "equal_accuracy_coverage": best["rollup_coverage"] if best else row["coverage"],
                "equal_accuracy_threshold": best["threshold"] if best else None,
            }
        )
    return rows


def show(title: str, scored: Scored, rows: list[dict]) -> None:
    classes = scored.probabilities.shape[1]
    accuracy = float((scored.probabilities.argmax(axis=1) == scored.truth).mean())
    print(
        f"\n{title}: {len(scored.truth)} held-out predictions, {classes} classes, "
        f"{int((scored.parents[:classes] != NO_NODE).sum())} of them under a higher taxon; "
        f"accuracy with no threshold {accuracy:.3f}"
    )
    print(
        "threshold | species only: coverage accuracy | roll-up same threshold: coverage accuracy "
        "rolled | roll-up at equal accuracy: coverage (threshold) | gain"
    )
    for r in rows:
        print(
            f"{r['threshold']:>9} | {r['coverage']:>8.3f} {r['accuracy'] or 0:>8.3f} | "
            f"{r['rollup_coverage']:>8.3f} {r['rollup_accuracy'] or 0:>8.3f} "
            f"{r['rolled_up']:>6.3f} | {r['equal_accuracy_coverage']:>8.3f} "
            f"({r['equal_accuracy_threshold']}) | "
            f"{r['equal_accuracy_coverage'] - r['coverage']:+.3f}"
        )


def summary(rows: list[dict]) -> dict:
    at = next(r for r in rows if r["threshold"] == DEFAULT_THRESHOLD)
    gains = [r["equal_accuracy_coverage"] - r["coverage"] for r in rows]
    return {
        "species_coverage": at["coverage"],
        "species_accuracy": at["accuracy"],
        "rollup_coverage": at["equal_accuracy_coverage"],
        "gain": round(at["equal_accuracy_coverage"] - at["coverage"], 4),
        "mean_gain_over_thresholds": round(float(np.mean(gains)), 4),
    }


def missouri_items() -> list:
    """The COCO file read as an import reads it (largest box per frame, sequences by seq_id)."""
    try:
        from training.services.simulation_data import dataset_items
    except ImportError:  # a checkout from before the reader moved out of the engine
        from annotation.ingest.layouts import plan_import
        from training.engine.simulation import plan_items

        plan = plan_import(MISSOURI, "coco", deployment=None, known_names=set(), normalise=str)
        return plan_items(plan, maxlag_s=20.0, earliest_year=1990)[0]
    return dataset_items(MISSOURI, fmt="coco", maxlag_s=20.0, earliest_year=1990)[1]


def missouri(args: argparse.Namespace) -> dict[str, tuple[Scored, list[dict]]]:
    items = missouri_items()
    started = time.perf_counter()
    vectors, readable = embed(
        [CropRequest(item.path, item.box) for item in items], cache=OUT / "rollup_missouri_tnc.npz"
    )
    print(
        f"missouri_tnc: {len(items)} labelled images embedded in "
        f"{time.perf_counter() - started:.0f} s ({int((~readable).sum())} unreadable)"
    )
    kept = [item for item, ok in zip(items, readable, strict=True) if ok]
    data = labelled_set(kept, vectors[readable])
    found = {}
    for title, wanted in (
        ("7 European classes, platform tree", set(EUROPEAN)),
        ("all 20 classes, real families", set(data.class_names)),
    ):
        rows = np.flatnonzero(np.isin(np.array(data.class_names)[data.labels], list(wanted)))
        names = sorted(wanted)
        labels = np.array([names.index(data.class_names[y]) for y in data.labels[rows]])
        probabilities, truth = cross_scored(
            data.embeddings[rows],
            labels,
            data.sequences[rows],
            len(names),
            args.folds,
            args.repeats,
        )
        scored = Scored(probabilities, truth, parents_of(names, MISSOURI_PARENTS))
        found[title] = (scored, at_equal_accuracy(scored))
    return found


# A known tree: a family (F1) with a subfamily (F1a) inside, two more families, and lone species.
GENERATED_PARENTS = {
    "s0": "F1a",
    "s1": "F1a",
    "F1a": "F1",
    "s2": "F1",
    "s3": "F2",
    "s4": "F2",
    "s5": "F2",
    "s6": "F3",
    "s7": "F3",
}
GENERATED_CLASSES = [f"s{i}" for i in range(12)]


def generated_set(
    seed: int = 0, dim: int = 64, sequences_per_class: int = 30
) -> tuple[np.ndarray, ...]:
    """Frames around their sequence's point, sequences around their species' centre, species of one
    family around the family's centre (a subfamily's two species closer still): a family is easy,
    its species not."""
    rng = np.random.default_rng(seed)
    centre = {name: rng.normal(scale=1.0, size=dim) for name in ("F1", "F2", "F3")}
    centre["F1a"] = centre["F1"] + rng.normal(scale=0.8, size=dim)
    features, labels, sequences = [], [], []
    for k, name in enumerate(GENERATED_CLASSES):
        parent = GENERATED_PARENTS.get(name)
        spread = 0.45 if parent == "F1a" else 0.6
        around = centre[parent] if parent else np.zeros(dim)
        species = around + rng.normal(scale=spread if parent else 1.0, size=dim)
        for s in range(sequences_per_class):
            point = species + rng.normal(scale=0.5, size=dim)
            frames = int(rng.integers(1, 7))
            features.append(point + rng.normal(scale=0.6, size=(frames, dim)))
            labels += [k] * frames
            sequences += [f"{name}-{s}"] * frames
    return np.concatenate(features).astype(np.float32), np.array(labels), np.array(sequences)


def generated(args: argparse.Namespace) -> tuple[Scored, list[dict]]:
    features, labels, sequences = generated_set()
    probabilities, truth = cross_scored(
        features, labels, sequences, len(GENERATED_CLASSES), args.folds, args.repeats
    )
    scored = Scored(probabilities, truth, parents_of(GENERATED_CLASSES, GENERATED_PARENTS))
    return scored, at_equal_accuracy(scored)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    results = {}
    if MISSOURI.is_dir():
        for title, (scored, rows) in missouri(args).items():
            show(f"missouri_tnc, {title}", scored, rows)
            results[f"missouri_tnc, {title}"] = summary(rows)
    else:
        print(f"missouri_tnc not found at {MISSOURI}: generated set only")
    scored, rows = generated(args)
    show("generated set, known tree", scored, rows)
    results["generated"] = summary(rows)
    print(f"\nat threshold {DEFAULT_THRESHOLD}, coverage gained at equal or better accuracy:")
    for title, figures in results.items():
        print(f"  {title}: {figures}")
    print(f"({time.perf_counter() - started:.0f} s)")
    main_key = (
        "missouri_tnc, 7 European classes, platform tree" if MISSOURI.is_dir() else "generated"
    )
    head = results[main_key]
    print(
        json.dumps(
            {
                "metric": "rollup_coverage_gain",
                "value": head["gain"],
                "unit": "share of images",
                "baseline": head["species_coverage"],
                "ratio": round(head["rollup_coverage"] / max(head["species_coverage"], 1e-9), 4),
                "threshold": DEFAULT_THRESHOLD,
                "data": main_key,
                "others": {k: v for k, v in results.items() if k != main_key},
            }
        )
    )


if __name__ == "__main__":
    print(kernels_report(), flush=True)
    main()
