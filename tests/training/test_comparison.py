"""The paired bootstrap over test sequences that the promotion gate reads (no database)."""

import numpy as np

from training.engine.comparison import paired_macro_f1_bootstrap
from training.engine.metrics import macro_f1


def _toy(sequences: int, frames: int, accuracy_a: float, accuracy_b: float, seed: int = 0):
    """Two models on the same test frames; frames of a sequence share their label and, mostly,
    the verdict."""
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, 4, size=sequences), frames)
    right_a = np.repeat(rng.random(sequences) < accuracy_a, frames)
    right_b = np.repeat(rng.random(sequences) < accuracy_b, frames)
    wrong = (y + 1) % 4
    return (
        y,
        np.where(right_a, y, wrong),
        np.where(right_b, y, wrong),
        np.repeat(np.arange(sequences), frames),
    )


def test_identical_predictions_differ_by_exactly_nothing():
    y, a, _, groups = _toy(40, 3, 0.8, 0.8)
    result = paired_macro_f1_bootstrap(y, a, a, groups, num_classes=4)
    assert result.difference == result.low == result.high == 0.0 and result.sequences == 40


def test_the_observed_difference_is_the_difference_of_macro_f1():
    y, a, b, groups = _toy(60, 2, 0.9, 0.5)
    result = paired_macro_f1_bootstrap(y, a, b, groups, num_classes=4)
    assert np.isclose(result.difference, macro_f1(y, a) - macro_f1(y, b))
    assert (
        0 < result.low < result.difference < result.high
    )  # a clearly better model: the interval is above 0


def test_bursts_are_not_counted_as_independent_evidence():
    """Ten frames of each sequence say no more than one: the interval is as wide as with one
    frame each."""
    y1, a1, b1, g1 = _toy(30, 1, 0.8, 0.7, seed=3)
    y10, a10, b10, g10 = _toy(30, 10, 0.8, 0.7, seed=3)
    one = paired_macro_f1_bootstrap(y1, a1, b1, g1, num_classes=4, seed=5)
    ten = paired_macro_f1_bootstrap(y10, a10, b10, g10, num_classes=4, seed=5)
    assert np.isclose(one.high - one.low, ten.high - ten.low, rtol=0.25)
    as_if_independent = paired_macro_f1_bootstrap(
        y10, a10, b10, np.arange(len(y10)), num_classes=4, seed=5
    )
    assert as_if_independent.high - as_if_independent.low < 0.6 * (ten.high - ten.low)


def test_the_same_seed_gives_the_same_interval():
    y, a, b, groups = _toy(50, 2, 0.7, 0.6)
    first = paired_macro_f1_bootstrap(y, a, b, groups, num_classes=4, seed=9)
    assert first == paired_macro_f1_bootstrap(y, a, b, groups, num_classes=4, seed=9)


def test_an_empty_test_split_reports_no_sequences():
    empty = np.zeros(0, dtype=int)
    result = paired_macro_f1_bootstrap(empty, empty, empty, empty, num_classes=3)
    assert result.sequences == 0 and result.resamples == 0
