"""The coverage/accuracy table of a round, species only and with taxonomic roll-up: engine figures
on tiny arrays, then a real round's metrics and page."""

import numpy as np
import pytest

from training.engine.metrics import evaluate, rollup_curve

# classes 0 red deer, 1 roe deer, 2 fox; node 3 the deer family
PARENTS = np.array([3, 3, -1, -1])
PROBABILITIES = np.array(
    [
        [0.90, 0.05, 0.05],  # sure red deer, right
        [0.45, 0.45, 0.10],  # split deer, truly roe deer: rolls up to the deer family, right
        [0.50, 0.40, 0.10],  # split deer, truly a fox: rolls up to the deer family, wrong
        [0.40, 0.10, 0.50],  # nothing sure, no family either: stays undefined
    ]
)
TRUTH = np.array([0, 1, 2, 2])


def _row(rows: list[dict], threshold: float) -> dict:
    return next(row for row in rows if row["threshold"] == threshold)


def test_roll_up_keeps_split_deer_and_scores_them_against_the_family():
    names = ["red deer", "roe deer", "fox"]
    rows = evaluate(TRUTH, np.log(PROBABILITIES), names, parents=PARENTS)["coverage"]
    at = _row(rows, 0.8)
    assert (at["coverage"], at["accuracy"]) == (0.25, 1.0)
    assert (at["rollup_coverage"], at["rolled_up"], at["rollup_accuracy"]) == (
        0.75,
        0.5,
        round(2 / 3, 4),
    )


def test_at_threshold_zero_roll_up_changes_nothing():
    rows = evaluate(TRUTH, np.log(PROBABILITIES), ["a", "b", "c"], parents=PARENTS)["coverage"]
    first = _row(rows, 0.0)
    assert first["rollup_coverage"] == first["coverage"] == 1.0 and first["rolled_up"] == 0.0
    assert first["rollup_accuracy"] == first["accuracy"]


def test_roll_up_never_loses_coverage_and_a_flat_tree_adds_none():
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.full(6, 0.4), size=300)
    truth = rng.integers(0, 6, 300)
    tree = np.array([6, 6, 7, 7, 7, -1, 8, 8, -1])  # two families under one order, and a lone class
    curve = evaluate(truth, np.log(probabilities), list("abcdef"), parents=tree)["coverage"]
    assert all(row["rollup_coverage"] >= row["coverage"] for row in curve)
    assert any(row["rolled_up"] > 0 for row in curve)
    flat = rollup_curve(probabilities, truth, np.full(6, -1))
    species = evaluate(truth, np.log(probabilities), list("abcdef"))["coverage"]
    assert [r["rollup_coverage"] for r in flat] == [r["coverage"] for r in species]
    assert [r["rollup_accuracy"] for r in flat] == [r["accuracy"] for r in species]


def test_without_a_tree_the_rows_are_species_only():
    rows = evaluate(TRUTH, np.log(PROBABILITIES), ["a", "b", "c"])["coverage"]
    assert set(rows[0]) == {"threshold", "coverage", "accuracy"}


@pytest.mark.slow
@pytest.mark.django_db
def test_a_rounds_table_shows_both(client, org, partner):
    from inference.services.registry import default_version_ensure
    from tests.training.test_rounds import labelled_pool, run_round

    labelled_pool(org, default_version_ensure(), {"red-deer": 30, "roe-deer": 30, "fox": 30})
    done = run_round()
    rows = done.metrics["candidate"]["test"]["coverage"]
    assert rows and all(row["rollup_coverage"] >= row["coverage"] for row in rows)
    assert "rollup_coverage" in done.metrics["production"]["test"]["coverage"][0]
    client.force_login(partner)
    page = client.get(f"/rounds/{done.pk}/").content.decode()
    assert "coverage with roll-up" in page and 'id="rollup-note"' in page
