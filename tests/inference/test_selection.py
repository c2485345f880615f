"""Selection strategies on small synthetic pools: no database."""

import numpy as np
import pytest

from inference.engine.selection import STRATEGIES, Pool, kcenter, select, typical, uncertainty


def pool(n: int = 400, classes: int = 4, seed: int = 0, with_probabilities: bool = True) -> Pool:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 16))
    labels = rng.integers(0, classes, n)
    embeddings = (centres[labels] + rng.normal(scale=0.3, size=(n, 16))).astype(np.float32)
    logits = rng.normal(size=(n, classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Pool(
        ids=np.arange(1000, 1000 + n),
        embeddings=embeddings,
        probabilities=probabilities if with_probabilities else None,
        sequences=np.arange(n) // 4,
    )


def test_uncertainty_orders_as_expected():
    probabilities = np.array([[0.98, 0.01, 0.01], [0.5, 0.49, 0.01], [0.34, 0.33, 0.33]])
    for kind in ("least_confidence", "margin", "entropy"):
        scores = uncertainty(probabilities, kind)
        assert scores[0] < scores[1] and scores[0] < scores[2]
    assert uncertainty(probabilities, "margin")[1] > uncertainty(probabilities, "margin")[0]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_picks_distinct_candidates(strategy):
    picked = select(pool(), strategy, 20, seed=1)
    assert len(picked.ids) == 20 and len(set(picked.ids)) == 20
    assert set(picked.ids) <= set(range(1000, 1400))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_at_most_one_image_per_sequence(strategy):
    candidates = pool()
    picked = select(candidates, strategy, 30)
    sequences = candidates.sequences[picked.ids - 1000]
    assert len(set(sequences)) == len(sequences)


def test_margin_picks_the_least_sure():
    candidates = pool()
    picked = select(candidates, "margin", 10)
    margin = uncertainty(candidates.probabilities, "margin")
    assert margin[picked.ids - 1000].min() >= np.sort(margin)[-60]


def test_kcenter_reaches_every_cluster_and_avoids_the_labelled_one():
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32) * 5
    embeddings = np.concatenate(
        [centres[i] + rng.normal(scale=0.1, size=(50, 8)) for i in range(8)]
    ).astype(np.float32)
    candidates = Pool(ids=np.arange(400), embeddings=embeddings, labelled=centres[:1])
    picked = kcenter(candidates, 7)
    assert set(picked.ids // 50) == set(range(1, 8))


def test_hybrid_spreads_over_clusters_and_skips_near_duplicates():
    candidates = pool(n=400, classes=4)
    candidates.embeddings[1:40] = candidates.embeddings[0]  # a burst of identical frames...
    candidates.probabilities[0:40] = [
        0.26,
        0.25,
        0.25,
        0.24,
    ]  # ...that the model finds the most uncertain
    candidates.sequences = np.arange(
        400
    )  # each its own sequence, so only the duplicate rule can stop them
    picked = select(candidates, "hybrid", 12)
    assert np.sum(picked.ids < 1040) == 1


def test_hybrid_without_predictions_falls_back_to_typical():
    candidates = pool(with_probabilities=False)
    picked = select(candidates, "hybrid", 8)
    assert len(picked.ids) == 8 and np.array_equal(picked.ids, typical(candidates, 8).ids)


def test_rare_taxa_are_boosted():
    candidates = pool(n=200, classes=2)
    candidates.probabilities = np.tile([0.6, 0.4], (200, 1))
    candidates.probabilities[100:] = [0.4, 0.6]  # the same margin, predicted as class 1
    candidates.rarity = np.array([1000, 2])  # class 1 is rare in the labelled pool
    candidates.sequences = None
    picked = select(candidates, "hybrid", 10)
    assert np.mean(picked.ids >= 1100) > 0.5


def test_unknown_strategy_and_missing_predictions_say_so():
    with pytest.raises(ValueError, match="unknown strategy"):
        select(pool(), "oracle", 5)
    with pytest.raises(ValueError, match="needs predictions"):
        select(pool(with_probabilities=False), "margin", 5)


def test_ties_are_broken_at_random_not_in_storage_order():
    """Saturated probabilities tie: the picks must not simply be the first candidates stored."""
    candidates = pool(n=400)
    candidates.probabilities = np.tile([1.0, 0.0, 0.0, 0.0], (400, 1))
    for strategy in ("margin", "least_confidence", "entropy"):
        picked = select(candidates, strategy, 10, seed=3)
        assert picked.ids.max() > 1000 + 200, (
            strategy
        )  # storage order would give the first 10 sequences
        assert not np.array_equal(picked.ids, select(candidates, strategy, 10, seed=4).ids)


def test_hybrid_skips_near_copies_of_labelled_images():
    candidates = pool(n=200)
    candidates.labelled = candidates.embeddings[
        :100
    ].copy()  # half the pool is a copy of something labelled
    picked = select(candidates, "hybrid", 20, seed=0)
    assert len(picked.ids) == 20 and picked.ids.min() >= 1100
    candidates.labelled = candidates.embeddings.copy()  # everything is a copy: it still picks
    assert len(select(candidates, "hybrid", 20, seed=0).ids) == 20


def _three_groups() -> Pool:
    """Group 0 is labelled already; the head is unsure on groups 0 and 1 and (wrongly) sure on
    group 2."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, 16)) * 4
    group = np.repeat([0, 1, 2], 100)
    embeddings = (centres[group] + rng.normal(size=(300, 16))).astype(np.float32)
    probabilities = np.where(group[:, None] == 2, [0.97, 0.01, 0.01, 0.01], [0.3, 0.3, 0.2, 0.2])
    return Pool(
        ids=np.arange(300),
        embeddings=embeddings,
        probabilities=probabilities,
        sequences=np.arange(300),
        labelled=centres[[0, 0]] + 0.1,
        rarity=np.array([2, 0, 0, 0]),
    )


def test_hybrid_explores_what_nothing_labelled_resembles_while_labels_are_few():
    young = _three_groups()
    assert (
        select(young, "hybrid", 6, seed=0).ids >= 200
    ).any()  # the group the head is wrongly sure of
    mature = _three_groups()
    mature.rarity = np.array([5000, 5000, 0, 0])
    assert not (select(mature, "hybrid", 6, seed=0).ids >= 200).any()  # now uncertainty decides
    assert not (select(young, "margin", 6, seed=0).ids >= 200).any()
