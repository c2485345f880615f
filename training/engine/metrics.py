"""Evaluation figures: accuracy, macro-F1, per-class precision/recall/support, confusion
matrix, expected calibration error with its reliability bins, sequence-level accuracy, and
the coverage/accuracy trade-off of the "undefined" threshold, species only and with
taxonomic roll-up."""

from typing import Any

import numpy as np

from inference.engine.aggregate import softmax
from inference.engine.rollup import NO_NODE, roll_up, rolled_up_correct

THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    true_positive = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0
    )
    return precision, recall, f1, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over the classes present in y_true (a class nobody labelled cannot be scored)."""
    num_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    _, _, f1, support = per_class(confusion(y_true, y_pred, num_classes))
    return _mean_over_present(f1, support)


def _mean_over_present(f1: np.ndarray, support: np.ndarray) -> float:
    return float(f1[support > 0].mean()) if (support > 0).any() else 0.0


def calibration(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> tuple[float, list[dict[str, Any]]]:
    edges = np.linspace(0, 1, bins + 1)
    rows, error = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            accuracy, mean_confidence = (
                float(correct[inside].mean()),
                float(confidence[inside].mean()),
            )
            error += inside.mean() * abs(accuracy - mean_confidence)
            rows.append(
                {
                    "low": round(float(low), 3),
                    "high": round(float(high), 3),
                    "count": int(inside.sum()),
                    "accuracy": round(accuracy, 4),
                    "confidence": round(mean_confidence, 4),
                }
            )
    return float(error), rows


def sequence_accuracy(y_true: np.ndarray, logits: np.ndarray, sequence_ids: np.ndarray) -> float:
    """DeepFaune's out-of-sample measure: average the logits of each sequence, then score one
    verdict each."""
    order = np.argsort(sequence_ids, kind="stable")
    ids, starts = np.unique(sequence_ids[order], return_index=True)
    sums = np.add.reduceat(logits[order], starts, axis=0)
    verdicts = sums.argmax(axis=1)
    truth = y_true[order][starts]  # a sequence carries one label
    return float((verdicts == truth).mean()) if len(ids) else 0.0


def coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, thresholds: tuple[float, ...] = THRESHOLDS
) -> list[dict[str, Any]]:
    """For each 'undefined' threshold: the share of images that keep a label, and how often it
    is right."""
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append(
            {
                "threshold": threshold,
                "coverage": round(float(kept.mean()), 4),
                "accuracy": round(float(correct[kept].mean()), 4) if kept.any() else None,
            }
        )
    return rows


def rollup_curve(
    probabilities: np.ndarray,
    y_true: np.ndarray,
    parents: np.ndarray,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> list[dict[str, Any]]:
    """The same trade-off when an undefined image rolls up to the deepest higher taxon whose summed
    probability reaches the threshold: it keeps that answer, right when its true class lies under
    the taxon."""
    classes = probabilities.shape[1]
    species_right = probabilities.argmax(axis=1) == y_true
    rows = []
    for threshold in thresholds:
        defined = probabilities.max(axis=1) >= threshold
        found = roll_up(probabilities, parents, threshold)
        rolled = found.node != NO_NODE
        kept = defined | rolled
        right = np.where(
            defined, species_right, rolled_up_correct(found.node, y_true, parents, classes)
        )
        rows.append(
            {
                "rollup_coverage": round(float(kept.mean()), 4),
                "rollup_accuracy": round(float(right[kept].mean()), 4) if kept.any() else None,
                "rolled_up": round(float(rolled.mean()), 4),
            }
        )
    return rows


def evaluate(
    y_true: np.ndarray,
    logits: np.ndarray,
    class_names: list[str],
    *,
    temperature: float = 1.0,
    sequence_ids: np.ndarray | None = None,
    parents: np.ndarray | list[int] | None = None,
) -> dict[str, Any]:
    """`parents`: the tree above the classes (see inference.engine.rollup); with it, the coverage
    rows carry the figures with roll-up as well."""
    probabilities = softmax(logits / temperature)
    y_pred = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = y_pred == y_true
    matrix = confusion(y_true, y_pred, len(class_names))
    precision, recall, f1, support = per_class(matrix)
    ece, bins = calibration(confidence, correct)
    return {
        "count": int(len(y_true)),
        "accuracy": round(float(correct.mean()), 5) if len(y_true) else 0.0,
        "macro_f1": round(_mean_over_present(f1, support), 5),
        "per_class": [
            {
                "class": name,
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
        ],
        "confusion": matrix.tolist(),
        "ece": round(ece, 5),
        "reliability": bins,
        "sequence_accuracy": round(sequence_accuracy(y_true, logits, sequence_ids), 5)
        if sequence_ids is not None and len(y_true)
        else None,
        "coverage": _coverage_rows(probabilities, y_true, correct, parents),
    }


def _coverage_rows(
    probabilities: np.ndarray,
    y_true: np.ndarray,
    correct: np.ndarray,
    parents: np.ndarray | list[int] | None,
) -> list[dict[str, Any]]:
    rows = coverage_curve(probabilities.max(axis=1), correct)
    if parents is None:
        return rows
    extra = rollup_curve(probabilities, y_true, np.asarray(parents, dtype=np.int64))
    return [{**row, **more} for row, more in zip(rows, extra, strict=True)]
