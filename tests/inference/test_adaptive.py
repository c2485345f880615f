"""The adaptive strategy: its measured signal (how far the labels generalise to other sequences) and
the split of a batch between coverage and uncertainty that follows from it (no database)."""

import numpy as np

from inference.engine.selection import Pool, adaptive, kcenter, reliability


def _pool(separable: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0 if separable else 0.0, size=(3, 8))
    labelled_labels = np.repeat(np.arange(3), 4)
    labelled = centres[labelled_labels] + rng.normal(size=(12, 8))
    candidates = centres[rng.integers(0, 3, size=60)] + rng.normal(size=(60, 8))
    probabilities = rng.dirichlet(np.ones(3), size=60)
    return Pool(
        ids=np.arange(100, 160),
        embeddings=candidates.astype(np.float32),
        probabilities=probabilities,
        sequences=np.array([f"s{i // 2}" for i in range(60)]),
        labelled=labelled.astype(np.float32),
        labelled_labels=labelled_labels,
        labelled_sequences=np.array([f"l{i}" for i in range(12)]),
    )


def test_reliability_is_high_when_classes_separate_and_low_when_they_do_not():
    assert reliability(_pool(True)) > 0.9
    assert reliability(_pool(False)) < 0.6
    single = _pool(True)
    single.labelled_sequences = np.array(["one"] * 12)
    assert reliability(single) is None  # one labelled sequence says nothing about others


def test_unreliable_labels_spend_the_batch_on_coverage_reliable_ones_on_uncertainty():
    unsure = _pool(False)
    unsure.labelled_labels = np.zeros(12, dtype=int)  # nothing to tell apart yet
    unsure.labelled_sequences = np.array(["one"] * 12)
    picked = adaptive(unsure, 6)
    assert set(picked.ids) == set(kcenter_sequence_ids(unsure, 6))
    from inference.engine.selection import _sequence_probabilities, uncertainty

    sure = _pool(True)
    doubt = uncertainty(
        _sequence_probabilities(sure), "margin"
    )  # a verdict covers the sequence: its pooled doubt
    picked = adaptive(sure, 6)
    assert np.mean(doubt[picked.ids - 100]) > np.quantile(
        doubt, 0.6
    )  # among the least sure sequences
    assert len(set(sure.sequences[picked.ids - 100])) == 6  # one image a sequence


def kcenter_sequence_ids(pool: Pool, size: int) -> np.ndarray:
    """What coverage alone picks: k-center over sequence means, each sequence by its most
    central frame."""
    from inference.engine.selection import _sequence_kcenter

    return pool.ids[_sequence_kcenter(pool, size)]


def test_coverage_over_sequences_is_not_fooled_by_one_odd_frame():
    rng = np.random.default_rng(3)
    frames = rng.normal(scale=0.01, size=(40, 8)) + np.repeat(rng.normal(size=(20, 8)), 2, axis=0)
    frames[0] = 50.0  # a flash: one frame far from everything
    pool = Pool(
        ids=np.arange(40),
        embeddings=frames.astype(np.float32),
        sequences=np.repeat(np.arange(20), 2),
    )
    first_frame_alone = kcenter(pool, 1).ids[0]
    assert first_frame_alone == 0  # frame-level k-center takes the flash
    assert kcenter_sequence_ids(pool, 1)[0] != 0  # the sequence's own frames answer for it
