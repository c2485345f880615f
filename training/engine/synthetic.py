"""Generated camera-trap-like embedding sets with controlled structure, for measuring selection
strategies where the truth is known: classes with several looks each (pose, day or night), cameras
that shift everything they see (background, lighting), sequences as bursts of near-identical frames,
balanced or long-tailed classes, a class that only turns up late, noisy experts. No images: vectors
shaped like a backbone's pooled features."""

from dataclasses import dataclass

import numpy as np

from training.engine.simulation import LabelledSet


@dataclass(frozen=True)
class SetShape:
    classes: int = 10
    sequences: int = 300
    long_tail: bool = False  # class frequencies falling as 1 / rank (else balanced)
    frames_mean: float = 3.0  # mean frames per sequence (at least 1; geometric)
    looks: int = 3  # distinct looks per class (pose, day/night)
    cameras: int = 12
    dim: int = 128
    class_spread: float = 1.0  # distance between families of classes
    sibling_spread: float = (
        0.6  # distance between the two classes of a family (red deer and roe deer)
    )
    look_spread: float = 0.8  # how far a look sits from its class centre
    camera_spread: float = 1.2  # how much a camera shifts everything it sees
    sequence_noise: float = 1.4  # one visit against another of the same look
    frame_noise: float = 0.12  # frames of one burst
    late_class: bool = False  # the rarest class arrives only at round `late_round`
    late_round: int = 6


def _frequencies(shape: SetShape) -> np.ndarray:
    weights = 1.0 / np.arange(1, shape.classes + 1) if shape.long_tail else np.ones(shape.classes)
    frequencies: np.ndarray = weights / weights.sum()
    return frequencies


def generate(shape: SetShape, seed: int = 0) -> LabelledSet:
    rng = np.random.default_rng(seed)
    families = rng.normal(scale=shape.class_spread, size=((shape.classes + 1) // 2, shape.dim))
    centres = families[np.arange(shape.classes) // 2] + rng.normal(
        scale=shape.sibling_spread, size=(shape.classes, shape.dim)
    )
    looks = centres[:, None, :] + rng.normal(
        scale=shape.look_spread, size=(shape.classes, shape.looks, shape.dim)
    )
    cameras = rng.normal(scale=shape.camera_spread, size=(shape.cameras, shape.dim))
    labels = rng.choice(shape.classes, size=shape.sequences, p=_frequencies(shape))
    labels[: shape.classes] = np.arange(shape.classes)  # every class shows up at least once
    rows, row_labels, keys = [], [], []
    for number, label in enumerate(labels):
        visit = looks[label, rng.integers(shape.looks)] + cameras[rng.integers(shape.cameras)]
        visit = visit + rng.normal(scale=shape.sequence_noise, size=shape.dim)
        frames = rng.geometric(1.0 / shape.frames_mean)
        rows.append(visit + rng.normal(scale=shape.frame_noise, size=(frames, shape.dim)))
        row_labels += [int(label)] * frames
        keys += [f"s{number}"] * frames
    vectors = np.concatenate(rows).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels_out = np.array(row_labels)
    arrival = (
        np.where(labels_out == shape.classes - 1, shape.late_round, 0) if shape.late_class else None
    )
    return LabelledSet(
        vectors,
        labels_out,
        np.array(keys),
        [f"class {i}" for i in range(shape.classes)],
        arrival=arrival,
    )
