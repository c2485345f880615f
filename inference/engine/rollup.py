"""Taxonomic roll-up: when no class reaches the 'undefined' threshold but a higher taxon's summed
probability does (red deer and roe deer split the vote, the deer family is sure), the answer is
that taxon.

The tree comes as one array of parents over nodes. Nodes 0..K-1 are the classifier's K classes in
output order; nodes K.. are the higher taxa above them that are not classes. A class may sit under
another class (badger under mustelid): its probability then counts towards the parent's sum, as the
parent's own does."""

from dataclasses import dataclass

import numpy as np

NO_NODE = -1


@dataclass(frozen=True)
class RollUp:
    node: (
        np.ndarray
    )  # (n,) the node rolled up to; NO_NODE where a class answers or nothing is sure enough
    probability: np.ndarray  # (n,) that node's summed probability (0 where there is none)


def depths(parents: np.ndarray) -> np.ndarray:
    """Steps from each node up to its root. A cycle never reaches one: it is refused rather than
    looped on."""
    parents = np.asarray(parents, dtype=np.int64)
    depth = np.zeros(len(parents), dtype=np.int64)
    current = parents.copy()
    for _ in range(len(parents) + 1):  # the longest chain climbs len(parents) - 1 steps
        climbing = current != NO_NODE
        if not climbing.any():
            return depth
        depth += climbing
        current = np.where(climbing, parents[np.where(climbing, current, 0)], NO_NODE)
    raise ValueError("the taxon tree has a cycle")


def covers(parents: np.ndarray, classes: int) -> np.ndarray:
    """(nodes, classes) booleans: class k is node n itself or lies under it."""
    parents = np.asarray(parents, dtype=np.int64)
    depths(parents)  # refuses a cycle before the walk below relies on reaching a root
    found = np.zeros((len(parents), classes), dtype=bool)
    for k in range(classes):
        node = k
        while node != NO_NODE:
            found[node, k] = True
            node = int(parents[node])
    return found


def roll_up(probabilities: np.ndarray, parents: np.ndarray, threshold: float) -> RollUp:
    """For each row (class probabilities) whose best class is under `threshold`: the deepest node
    whose summed probability reaches it; between two nodes of equal depth (possible only under a
    threshold of 0.5 or less), the surer one. Rows with a class over the threshold keep their
    class: NO_NODE."""
    rows = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    sums = rows @ covers(parents, rows.shape[1]).T.astype(np.float64)
    undefined = rows.max(axis=1) < threshold
    reaching = (sums >= threshold) & undefined[:, None]
    # Depth is a whole number and a probability at most 1: half a probability never outweighs one
    # step deeper.
    rank = np.where(reaching, depths(parents)[None, :] + np.clip(sums, 0.0, 1.0) / 2, -1.0)
    best = rank.argmax(axis=1)
    found = reaching.any(axis=1)
    node = np.where(found, best, NO_NODE)
    probability = np.where(found, sums[np.arange(len(rows)), best], 0.0)
    return RollUp(node, probability)


def rolled_up_correct(
    node: np.ndarray, y_true: np.ndarray, parents: np.ndarray, classes: int
) -> np.ndarray:
    """A rolled-up answer is right when the true class is that node or lies under it."""
    covered = covers(parents, classes)
    correct: np.ndarray = covered[np.where(node == NO_NODE, 0, node), y_true] & (node != NO_NODE)
    return correct
