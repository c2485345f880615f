"""Evaluation figures: accuracy, macro-F1, per-class precision/recall/support, confusion matrix, expected
calibration error with its reliability bins, sequence-level accuracy, and the coverage/accuracy trade-off of
the "undefined" threshold."""
import numpy as np

from inference.engine.aggregate import softmax


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    true_positive = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return precision, recall, f1, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over the classes present in y_true (a class nobody labelled cannot be scored)."""
    num_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    _, _, f1, support = per_class(confusion(y_true, y_pred, num_classes))
    return _mean_over_present(f1, support)


def _mean_over_present(f1: np.ndarray, support: np.ndarray) -> float:
    return float(f1[support > 0].mean()) if (support > 0).any() else 0.0


def calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> tuple[float, list[dict]]:
    edges = np.linspace(0, 1, bins + 1)
    rows, error = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            accuracy, mean_confidence = float(correct[inside].mean()), float(confidence[inside].mean())
            error += inside.mean() * abs(accuracy - mean_confidence)
            rows.append({"low": round(float(low), 3), "high": round(float(high), 3), "count": int(inside.sum()),
                         "accuracy": round(accuracy, 4), "confidence": round(mean_confidence, 4)})
    return float(error), rows


def sequence_accuracy(y_true: np.ndarray, logits: np.ndarray, sequence_ids: np.ndarray) -> float:
    """DeepFaune's out-of-sample measure: average the logits of each sequence, then score one verdict each."""
    order = np.argsort(sequence_ids, kind="stable")
    ids, starts = np.unique(sequence_ids[order], return_index=True)
    sums = np.add.reduceat(logits[order], starts, axis=0)
    verdicts = sums.argmax(axis=1)
    truth = y_true[order][starts]  # a sequence carries one label
    return float((verdicts == truth).mean()) if len(ids) else 0.0


def coverage_curve(confidence: np.ndarray, correct: np.ndarray,
                   thresholds: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)) -> list[dict]:
    """For each 'undefined' threshold: the share of images that keep a label, and how often it is right."""
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append({"threshold": threshold, "coverage": round(float(kept.mean()), 4),
                     "accuracy": round(float(correct[kept].mean()), 4) if kept.any() else None})
    return rows


def evaluate(y_true: np.ndarray, logits: np.ndarray, class_names: list[str], *, temperature: float = 1.0,
             sequence_ids: np.ndarray | None = None) -> dict:
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
        "per_class": [{"class": name, "precision": round(float(p), 4), "recall": round(float(r), 4),
                       "f1": round(float(f), 4), "support": int(s)}
                      for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)],
        "confusion": matrix.tolist(),
        "ece": round(ece, 5),
        "reliability": bins,
        "sequence_accuracy": round(sequence_accuracy(y_true, logits, sequence_ids), 5)
        if sequence_ids is not None and len(y_true) else None,
        "coverage": coverage_curve(confidence, correct),
    }
