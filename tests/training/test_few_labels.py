"""The prototype head and the cross-validated choice between it and the trained linear head
(no database)."""

import numpy as np

from training.engine.few_labels import choose_and_train, learn_head, prototype_head
from training.engine.heads import HeadConfig, head_logits


def _blobs(per_class: int, classes: int = 4, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    features = centres[labels] + rng.normal(size=(len(labels), dim))
    groups = np.arange(len(labels))  # one frame a sequence
    return features.astype(np.float32), labels, groups


def test_the_prototype_head_is_the_nearest_class_mean_in_the_standardised_space():
    features, labels, _ = _blobs(5)
    head = prototype_head(features, labels, 5)  # class 4 has no image
    mean = features.mean(axis=0)
    std = np.maximum(features.std(axis=0, ddof=1), 0.1 * np.median(features.std(axis=0, ddof=1)))
    z = (features - mean) / std
    centres = np.stack([z[labels == c].mean(axis=0) for c in range(4)])
    nearest = ((z[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
    logits = head_logits(head, features)
    np.testing.assert_array_equal(logits.argmax(axis=1), nearest)
    assert (logits[:, 4] < -1e3).all() and head.kind == "linear" and head.learner == "prototype"


def test_with_a_few_sequences_a_class_the_prototypes_win_the_cross_validation():
    features, labels, groups = _blobs(4, dim=64)
    head = choose_and_train(
        (features, labels), (features, labels), 4, HeadConfig(epochs=30), groups
    )
    scored = head.history[0]["cross_validated"]
    assert head.learner == "prototype" and scored["prototype"] > scored["linear"]
    assert (
        0.05 <= head.temperature <= 20
    )  # fitted on out-of-fold logits, not left at its saturating scale


def test_where_the_class_signal_hides_in_a_correlation_the_linear_head_wins():
    """Two classes apart only along x2 - x1, while x1 and x2 share a large common variation: the
    class means hardly differ per dimension, a linear layer finds the difference."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 150)
    shared = rng.normal(scale=3.0, size=300)
    features = np.stack(
        [shared, shared + 2.0 * labels + rng.normal(scale=0.3, size=300)], axis=1
    ).astype(np.float32)
    head = choose_and_train(
        (features, labels),
        (features, labels),
        2,
        HeadConfig(epochs=200, learning_rate=0.05),
        np.arange(300),
    )
    assert head.learner == "linear", head.history[0]


def test_past_the_choice_limit_or_without_sequences_the_trained_head_is_used():
    features, labels, _ = _blobs(4)
    data = (features, labels)
    assert learn_head(data, data, 4, HeadConfig(kind="auto", epochs=5)).learner == "linear"
    assert learn_head(data, data, 4, HeadConfig(kind="linear", epochs=5)).learner == "linear"
