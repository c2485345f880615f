"""Comparing two models on the same test images with the noise the test set carries.

A paired bootstrap over sequences: frames of one sequence are not independent evidence (a burst of
ten frames of one fox is one observation), so whole sequences are resampled, and both models are
scored on every resample.
The spread of the differences says how far the observed difference can be trusted."""

from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES_PER_STEP = 50  # resamples drawn at once: memory is steps x sequences integers


@dataclass(frozen=True)
class PairedDifference:
    difference: float  # macro-F1 of `a` minus macro-F1 of `b`, on the test set itself
    low: float  # the interval that holds `level` of the resampled differences
    high: float
    level: float
    resamples: int
    sequences: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "difference": round(self.difference, 5),
            "low": round(self.low, 5),
            "high": round(self.high, 5),
            "level": self.level,
            "resamples": self.resamples,
            "sequences": self.sequences,
        }


def _per_group_counts(
    y: np.ndarray, pred: np.ndarray, group: np.ndarray, groups: int, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence and class: true positives and predicted count (F1 = 2 TP / (predicted
    + support))."""
    true_positive = np.zeros((groups, classes))
    np.add.at(true_positive, (group[pred == y], y[pred == y]), 1)
    predicted = np.zeros((groups, classes))
    np.add.at(predicted, (group, pred), 1)
    return true_positive, predicted


def _macro_f1(true_positive: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Macro-F1 over the classes present, for each row of resampled counts."""
    denominator = predicted + support
    f1 = np.divide(
        2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0
    )
    present = support > 0
    scores: np.ndarray = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    return scores


def paired_macro_f1_bootstrap(
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    sequences: np.ndarray,
    *,
    num_classes: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    _, group = np.unique(sequences, return_inverse=True)
    groups = int(group.max()) + 1 if len(group) else 0
    support = np.zeros((groups, num_classes))
    np.add.at(support, (group, y), 1)
    counts_a = _per_group_counts(y, pred_a, group, groups, num_classes)
    counts_b = _per_group_counts(y, pred_b, group, groups, num_classes)
    ones = np.ones((1, groups))
    observed = (
        float(
            (
                _macro_f1(ones @ counts_a[0], ones @ counts_a[1], ones @ support)
                - _macro_f1(ones @ counts_b[0], ones @ counts_b[1], ones @ support)
            )[0]
        )
        if groups
        else 0.0
    )
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, resamples if groups else 0, RESAMPLES_PER_STEP):
        weights = rng.multinomial(
            groups, np.full(groups, 1 / groups), size=min(RESAMPLES_PER_STEP, resamples - start)
        ).astype(float)
        drawn = weights @ support
        differences.append(
            _macro_f1(weights @ counts_a[0], weights @ counts_a[1], drawn)
            - _macro_f1(weights @ counts_b[0], weights @ counts_b[1], drawn)
        )
    spread = np.concatenate(differences) if differences else np.array([observed])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(spread, [tail, 100 - tail])
    return PairedDifference(
        observed, float(low), float(high), level, len(spread) if groups else 0, groups
    )
