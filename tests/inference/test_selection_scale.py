"""The parts of selection that keep a large pool affordable give the same picks as the
plain computation they replace (or, where they approximate, err only in the stated
direction). No database."""

import numpy as np
import pytest

from inference.engine import selection
from inference.engine.selection import Pool, kcenter, nearest_labelled
from inference.engine.similarity import normalise


def clustered(n: int, dim: int, seed: int, *, clusters: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    return (centres[rng.integers(0, clusters, n)] + rng.normal(scale=0.6, size=(n, dim))).astype(
        np.float32
    )


def greedy_reference(
    vectors: np.ndarray, labelled: np.ndarray | None, sequences: np.ndarray, size: int
) -> list:
    """Farthest-first written out with the whole distance matrix: fine for a few
    hundred candidates."""
    unit = normalise(vectors)
    centres = [] if labelled is None else list(normalise(labelled))
    picks: list[int] = []
    for _ in range(size):
        distance = (
            (2.0 - 2.0 * unit @ np.array(centres).T).min(axis=1)
            if centres
            else np.full(len(unit), np.inf)
        )
        distance[np.isin(sequences, sequences[picks])] = -1.0
        chosen = int(np.argmax(distance))
        if distance[chosen] < 0:
            break
        picks.append(chosen)
        centres.append(unit[chosen])
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_labelled", [True, False])
def test_kcenter_picks_what_the_plain_greedy_picks(seed, with_labelled):
    vectors = clustered(360, 24, seed)
    labelled = clustered(40, 24, seed + 10) if with_labelled else None
    sequences = np.arange(360) // 3
    picked = kcenter(
        Pool(ids=np.arange(360), embeddings=vectors, sequences=sequences, labelled=labelled), 25
    )
    assert picked.ids.tolist() == greedy_reference(vectors, labelled, sequences, 25)


def test_kcenter_stops_when_every_sequence_is_taken():
    picked = kcenter(
        Pool(ids=np.arange(12), embeddings=clustered(12, 8, 0), sequences=np.arange(12) // 4), 10
    )
    assert len(picked.ids) == 3


def test_the_inverted_file_finds_labelled_images_never_nearer_than_they_are(monkeypatch):
    labelled, queries = normalise(clustered(3000, 32, 0)), normalise(clustered(500, 32, 1))
    exact = nearest_labelled(labelled, queries)
    monkeypatch.setattr(selection, "EXACT_PAIRS", 0)
    rough = nearest_labelled(labelled, queries)
    assert np.all(
        rough <= exact + 1e-5
    )  # a labelled image it found: never more similar than the nearest
    assert np.mean(np.isclose(rough, exact, atol=1e-5)) > 0.8


def test_a_large_pool_is_covered_in_the_projection_too(monkeypatch):
    rng = np.random.default_rng(0)
    centres = np.eye(256, dtype=np.float32)[:8] * 5
    vectors = np.concatenate(
        [centres[i] + rng.normal(scale=0.1, size=(60, 256)) for i in range(8)]
    ).astype(np.float32)
    monkeypatch.setattr(selection, "PROJECT_FROM", 100)
    monkeypatch.setattr(selection, "PROJECT_SAMPLE", 100)
    monkeypatch.setattr(selection, "PROJECTED_WIDTH", 16)
    picked = kcenter(Pool(ids=np.arange(480), embeddings=vectors, labelled=centres[:1]), 7)
    assert set(picked.ids // 60) == set(range(1, 8))


def test_group_sums_add_every_row_to_its_group():
    rng = np.random.default_rng(0)
    _, group = np.unique(rng.integers(0, 300, 5000), return_inverse=True)
    values = rng.random((5000, 5))
    expected = np.zeros((group.max() + 1, 5))
    np.add.at(expected, group, values)
    assert np.allclose(selection._group_sums(values, group, chunk=700), expected)
