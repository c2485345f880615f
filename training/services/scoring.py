"""How a version is scored on a round's test split, in one place: the round (worker side) and the
comparison page (web side) both call `test_figures`, on the items `test_items` reads back from the
round's frozen file, so the same version on the same items gives the same figures wherever they
are shown.

The items are the round's frozen test images (independent labels only), each with its label as the
round mapped it onto its classes (a rare taxon merged into its parent counts as the parent; one left
out is not an item).
A version answers among the round's classes: logits of taxa the version does not know are very low,
and outputs of taxa outside the round are set aside, as the round scored production."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotation.models import Annotation, Taxon
from faune_platform.db import in_chunks
from inference.selectors import taxon_tree
from training.engine.metrics import evaluate
from training.engine.splits import TEST, TRAIN
from training.services.snapshot import class_list

LOGITS_FILE = (
    "test_logits.npz"  # the logits a round scored its candidate and production with, per test item
)


@dataclass(frozen=True)
class TestItems:
    image_ids: np.ndarray
    y: np.ndarray  # index into `classes` of each item's label
    sequence_ids: np.ndarray  # as frozen with the round: frames of one sequence are one observation
    classes: list[int]  # taxon ids, in the round's class order
    names: list[str]

    def __len__(self) -> int:
        return len(self.image_ids)


def test_figures(items: TestItems, *, logits: np.ndarray, temperature: float) -> dict[str, Any]:
    """Accuracy, macro-F1, per class, calibration, sequence accuracy and coverage of one version's
    logits (one row per item, in the order of `items.classes`)."""
    return evaluate(
        items.y,
        logits,
        items.names,
        temperature=temperature,
        sequence_ids=items.sequence_ids,
        parents=taxon_tree(items.classes).parents,
    )


def freeze_classes(frozen: dict[str, Any], *, classes: list[int], y: np.ndarray) -> dict[str, Any]:
    """The round's classes and each row's class index (-1: left out), kept with its
    frozen labels."""
    return {**frozen, "classes": classes, "y": y.tolist()}


def test_items(frozen: dict[str, Any], *, min_labels: int) -> TestItems | None:
    """The test items of a round from its frozen file; None when the file says nothing of them.
    Rounds frozen before the classes were kept with the labels get them worked out again, by the
    same rule, from the labels."""
    classes, y = frozen.get("classes"), frozen.get("y")
    if classes is None or y is None:
        classes, y = _classes_again(frozen, min_labels)
    if not classes:
        return None
    y = np.asarray(y, dtype=np.int64)
    sides = np.asarray(frozen.get("sides") or [], dtype=object)
    accepted = np.asarray(frozen.get("model_accepted") or [False] * len(y), dtype=bool)
    if len(sides) != len(y):
        return None
    mask = (sides == TEST) & ~accepted & (y >= 0)
    names = dict(Taxon.objects.filter(pk__in=classes).values_list("pk", "name_en"))
    return TestItems(
        np.asarray(frozen["image_ids"], dtype=np.int64)[mask],
        y[mask],
        np.asarray(frozen.get("sequence_ids") or frozen["image_ids"], dtype=np.int64)[mask],
        list(classes),
        [names.get(t, str(t)) for t in classes],
    )


def _classes_again(frozen: dict[str, Any], min_labels: int) -> tuple[list[int], list[int]]:
    if "sides" not in frozen:
        return [], []
    taxon_of = dict(
        in_chunks(Annotation.objects.all(), "pk", set(frozen["label_ids"]), ("pk", "taxon_id"))
    )
    taxa = np.array([taxon_of.get(label, -1) for label in frozen["label_ids"]], dtype=np.int64)
    known = taxa >= 0
    train_mask = (np.asarray(frozen["sides"], dtype=object) == TRAIN)[known]
    classes, mapping, _ = class_list(taxa[known], train_mask=train_mask, minimum=min_labels)
    return classes, [classes.index(mapping[t]) if t in mapping else -1 for t in taxa.tolist()]


def save_test_logits(
    folder: Path, *, items_ids: np.ndarray, candidate: np.ndarray, production: np.ndarray
) -> None:
    """What the round scored, kept beside its metrics: comparing these two versions later reads them
    back instead of asking a candidate that never ran on the pool."""
    np.savez(
        folder / LOGITS_FILE,
        image_ids=items_ids,
        candidate=candidate.astype(np.float32),
        production=production.astype(np.float32),
    )


def saved_test_logits(folder: Path, *, role: str) -> dict[int, np.ndarray]:
    """{image id: logits} the round scored `role` ('candidate' or 'production') with; empty for
    rounds that kept none."""
    path = folder / LOGITS_FILE
    if not path.is_file():
        return {}
    with np.load(path) as saved:
        return dict(zip(saved["image_ids"].tolist(), saved[role], strict=True))
