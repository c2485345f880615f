"""Taxonomic roll-up on tiny arrays, no database: the deepest higher taxon whose summed probability
reaches the threshold answers when no class does."""

import numpy as np
import pytest

from inference.engine.rollup import NO_NODE, covers, depths, roll_up, rolled_up_correct

# classes 0 red deer, 1 roe deer, 2 mustelid, 3 badger (a class under a class), 4 ibex, 5 chamois, 6
# cow; higher taxa 7 deer family, 8 caprines (under 9), 9 bovids
PARENTS = np.array([7, 7, -1, 2, 8, 8, 9, -1, 9, -1])


def test_depths_and_what_each_node_covers():
    assert depths(PARENTS).tolist() == [1, 1, 0, 1, 2, 2, 1, 0, 1, 0]
    found = covers(PARENTS, 7)
    assert np.flatnonzero(found[7]).tolist() == [0, 1]
    assert np.flatnonzero(found[2]).tolist() == [
        2,
        3,
    ]  # the mustelid class sums its own and the badger's
    assert np.flatnonzero(found[9]).tolist() == [4, 5, 6]
    assert found[:7].diagonal().all()


def test_split_species_roll_up_to_their_sure_family():
    found = roll_up(np.array([0.45, 0.44, 0.03, 0.02, 0.02, 0.02, 0.02]), PARENTS, 0.8)
    assert found.node.tolist() == [7] and found.probability[0] == pytest.approx(0.89)


def test_a_sure_class_keeps_its_answer_and_an_unsure_family_rolls_nowhere():
    rows = np.array(
        [[0.85, 0.10, 0.01, 0.01, 0.01, 0.01, 0.01], [0.40, 0.10, 0.30, 0.10, 0.04, 0.03, 0.03]]
    )
    found = roll_up(rows, PARENTS, 0.8)
    assert found.node.tolist() == [NO_NODE, NO_NODE] and found.probability.tolist() == [0.0, 0.0]


def test_the_deepest_reaching_taxon_wins_and_a_class_can_be_the_answer():
    caprine = roll_up(np.array([0.0, 0.0, 0.0, 0.0, 0.5, 0.4, 0.1]), PARENTS, 0.8)
    assert caprine.node.tolist() == [8]  # caprines (0.9), not bovids (1.0) above them
    bovid = roll_up(np.array([0.0, 0.0, 0.0, 0.0, 0.4, 0.1, 0.5]), PARENTS, 0.8)
    assert bovid.node.tolist() == [9]  # caprines reach only 0.5
    mustelid = roll_up(np.array([0.05, 0.0, 0.5, 0.45, 0.0, 0.0, 0.0]), PARENTS, 0.8)
    assert mustelid.node.tolist() == [
        2
    ]  # mustelid + badger 0.95: the mustelid class answers by roll-up


def test_the_threshold_of_the_day_decides():
    row = np.array([0.45, 0.44, 0.03, 0.02, 0.02, 0.02, 0.02])
    assert roll_up(row, PARENTS, 0.95).node.tolist() == [NO_NODE]  # the family's 0.89 is not enough
    assert roll_up(row, PARENTS, 0.4).node.tolist() == [
        NO_NODE
    ]  # red deer itself is over the threshold


def test_a_flat_tree_never_rolls_up():
    rows = np.random.default_rng(0).dirichlet(np.ones(5), size=50)
    assert (roll_up(rows, np.full(5, -1), 0.8).node == NO_NODE).all()


def test_a_rolled_up_answer_is_right_when_the_truth_lies_under_it():
    node = np.array([7, 7, 9, 2, NO_NODE])
    truth = np.array([1, 4, 5, 3, 0])
    assert rolled_up_correct(node, truth, PARENTS, 7).tolist() == [True, False, True, True, False]


def test_a_cycle_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        roll_up(np.array([0.5, 0.5]), np.array([2, 2, 3, 2]), 0.8)
