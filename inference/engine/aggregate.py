"""Sequence verdicts as DeepFaune gives them: average the animal frames' logits, soften with a
temperature, and call the result undefined (keeping its top class) when the top score is under
a threshold."""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from faune_platform.boxes import Category


@dataclass(frozen=True)
class FrameResult:
    category: str  # a Category, from the detector (animal when none ran)
    logits: np.ndarray | None  # class logits when the frame was classified


@dataclass(frozen=True)
class SequenceVerdict:
    category: str
    class_index: int | None
    score: float
    undefined: bool
    top: list[tuple[int, float]]  # best classes with their probabilities


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: np.ndarray = exp / exp.sum(
        axis=-1, keepdims=True
    )  # numpy types reductions as Any
    return probabilities


def class_probabilities(
    logits: np.ndarray, *, temperature: float = 1.0, renormalise: bool = True
) -> np.ndarray:
    """Softmax with temperature; or, for log-probabilities that deliberately leave mass on no
    class (the zero-shot mapping), their plain exponential, so a photo of nothing we know does not
    score high."""
    if renormalise:
        return softmax(logits / max(temperature, 1e-6))
    plain: np.ndarray = np.exp(np.clip(logits, -60, 0))
    return plain


def aggregate_sequence(
    frames: list[FrameResult],
    *,
    temperature: float = 1.0,
    threshold: float = 0.8,
    top_k: int = 3,
    renormalise: bool = True,
) -> SequenceVerdict:
    animal_logits = [
        f.logits for f in frames if f.category == Category.ANIMAL and f.logits is not None
    ]
    if animal_logits:
        probabilities = class_probabilities(
            np.mean(np.stack(animal_logits), axis=0),
            temperature=temperature,
            renormalise=renormalise,
        )
        order = np.argsort(-probabilities)[:top_k]
        score = float(probabilities[order[0]])
        return SequenceVerdict(
            Category.ANIMAL,
            int(order[0]),
            score,
            score < threshold,
            [(int(i), float(probabilities[i])) for i in order],
        )
    others = [f.category for f in frames if f.category in (Category.HUMAN, Category.VEHICLE)]
    if not others:
        return SequenceVerdict(Category.EMPTY, None, 1.0, False, [])
    category, votes = Counter(others).most_common(1)[0]
    return SequenceVerdict(category, None, votes / len(frames), False, [])
