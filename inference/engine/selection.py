"""Picking the images most worth an expert's time, on stored embeddings and predictions only (no
re-embedding, no n x n matrix anywhere). Strategies: random, least_confidence, margin, entropy,
kcenter, typical, hybrid, adaptive. A pick stands for its sequence (the review desk labels the whole
sequence): at most one image per sequence, random draws sequences uniformly.

`adaptive` (the default, chosen on the suite of bench/active_learning.py): the batch is split by a
measured signal, how far the labels so far generalise to unlabelled sequences
(leave-one-sequence-out nearest-neighbour accuracy of the labelled images). The share they do not
yet cover goes to k-center over whole sequences (the sequences least like anything labelled); the
rest to the sequences the model is least sure of (margin of the sequence's pooled prediction),
spread over clusters, near-copies skipped.

`hybrid` (the default until the suite replaced it): a share classes / (classes + labels) of the
batch covers the largest clusters that nothing labelled resembles, the rest are cluster-spread
low-margin picks with a rare-taxa boost."""

from dataclasses import dataclass

import faiss
import numpy as np

from inference.engine.similarity import VectorIndex, normalise

STRATEGIES = (
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "kcenter",
    "typical",
    "hybrid",
    "adaptive",
)
DEFAULT_STRATEGY = (
    "adaptive"  # what the suite (bench/active_learning.py) says works best across data sets
)


@dataclass
class Pool:
    ids: np.ndarray  # (n,) candidate image ids
    embeddings: np.ndarray  # (n, d) float32
    probabilities: np.ndarray | None = None  # (n, classes), None before any head exists
    sequences: np.ndarray | None = None  # (n,) sequence id of each candidate
    labelled: np.ndarray | None = (
        None  # (m, d) embeddings already labelled (k-center starts from them)
    )
    rarity: np.ndarray | None = None  # (classes,) labelled count per class, for the rare-taxa boost
    labelled_labels: np.ndarray | None = None  # (m,) the label of each labelled embedding
    labelled_sequences: np.ndarray | None = None  # (m,) the sequence of each labelled embedding

    @property
    def head_probabilities(self) -> np.ndarray:
        """The probabilities, for the strategies that need a head (`select` refuses them before
        one exists)."""
        if self.probabilities is None:
            raise ValueError(
                "this strategy needs predictions; use 'typical' before any head exists"
            )
        return self.probabilities


@dataclass(frozen=True)
class Picked:
    ids: np.ndarray
    scores: np.ndarray  # the strategy's score of each pick (higher: picked earlier)


def uncertainty(probabilities: np.ndarray, kind: str) -> np.ndarray:
    """Higher means less sure."""
    score: np.ndarray  # numpy types reductions over an axis as Any
    if kind == "least_confidence":
        score = 1.0 - probabilities.max(axis=1)
    elif kind == "margin":
        top = np.partition(probabilities, -2, axis=1)[:, -2:]
        score = 1.0 - (top[:, 1] - top[:, 0])
    elif kind == "entropy":
        score = -(probabilities * np.log(np.clip(probabilities, 1e-12, None))).sum(axis=1)
    else:
        raise ValueError(f"unknown uncertainty {kind!r}")
    return score


NEIGHBOURHOOD_NPROBE = (
    8  # inverted lists a neighbourhood search visits: near images, not the very nearest
)


def neighbourhood(
    index: VectorIndex, labelled: np.ndarray, per_image: int, *, chunk: int = 4096
) -> np.ndarray:
    """Ids of the `per_image` nearest neighbours of each labelled embedding (SEALS): in a huge pool,
    the images near what is already labelled are where the model's boundary is, so only they are
    scored. The index holds labelled images too; callers keep the unlabelled ones. A rough search is
    enough (images near the labelled ones, not the very nearest), and it is what a large pool's pick
    spends most on."""
    found = [
        index.search(
            labelled[start : start + chunk], per_image, nprobe=NEIGHBOURHOOD_NPROBE
        ).ids.ravel()
        for start in range(0, len(labelled), chunk)
    ]
    ids = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return ids[ids >= 0]


def _ranked(score: np.ndarray, seed: int) -> np.ndarray:
    """Positions by decreasing score; ties in random order. Saturated probabilities tie by the
    thousand, and breaking them in storage order would hand the picks to whatever was uploaded (or
    listed) first."""
    return np.lexsort((np.random.default_rng(seed).random(len(score)), -score))


def _one_per_sequence(order: np.ndarray, sequences: np.ndarray | None, size: int) -> np.ndarray:
    if sequences is None:
        return order[:size]
    _, first = np.unique(sequences[order], return_index=True)
    return order[np.sort(first)][:size]


def _random(pool: Pool, size: int, seed: int) -> np.ndarray:
    """Sequences drawn uniformly (a long burst is no likelier than a single frame), one random frame
    of each."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool.ids))
    if pool.sequences is None:
        return order[:size]
    _, first = np.unique(
        pool.sequences[order], return_index=True
    )  # a random frame of every sequence
    return rng.permutation(order[first])[:size]


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster labels of each vector (FAISS k-means, a few iterations: the clusters only spread
    the picks)."""
    k = max(1, min(k, len(vectors)))
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=10,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=64,
        min_points_per_centroid=1,
    )
    kmeans.train(vectors)
    return kmeans.index.search(vectors, 1)[1][:, 0]


EXACT_PAIRS = (
    50_000_000  # candidates x labelled past which the nearest labelled image is searched in an IVF
)
PROJECT_FROM = 20_000  # candidates from which k-center measures distances in a PCA projection
PROJECTED_WIDTH = 128
PROJECT_SAMPLE = 4_096  # candidates the projection's directions are estimated on


def nearest_labelled(labelled: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (normalised) query to its nearest (normalised) labelled image. Past
    EXACT_PAIRS pairs the search goes through an inverted file over the labelled images: it may miss
    the very nearest, so a similarity may come out a little low (a near-copy missed, a distance a
    little long), never invented."""
    dim = labelled.shape[1]
    index: faiss.Index = faiss.IndexFlatIP(dim)
    if len(queries) * len(labelled) > EXACT_PAIRS:
        lists = int(max(16, np.sqrt(len(labelled))))
        quantizer = faiss.IndexFlatIP(dim)  # held here for as long as the inverted file is used
        inverted = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
        inverted.cp.niter = 10  # the lists only route the search; a rough partition is enough
        inverted.train(labelled)
        inverted.nprobe = max(1, lists // 8)
        index = inverted
    index.add(labelled)
    similarity, _ = index.search(queries, 1)
    found: np.ndarray = similarity[:, 0]
    return found


def _projected(
    vectors: np.ndarray, labelled: np.ndarray | None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalised candidates and labelled images, projected on the PROJECTED_WIDTH leading
    directions of a sample of the candidates when the pool is large: a greedy pick reads every
    candidate once, so its cost is width x candidates, and the leading directions of image
    embeddings carry most of what makes two images alike. Not centred: a cosine stays a cosine of
    (nearly) the same vectors."""
    vectors = normalise(vectors)
    labelled = normalise(labelled) if labelled is not None and len(labelled) else None
    if len(vectors) < PROJECT_FROM or vectors.shape[1] <= PROJECTED_WIDTH:
        return vectors, labelled
    sample = vectors[
        np.random.default_rng(seed).choice(
            len(vectors), min(len(vectors), PROJECT_SAMPLE), replace=False
        )
    ]
    _, directions = np.linalg.eigh(
        sample.T @ sample
    )  # ascending eigenvalues: the leading ones come last
    leading = np.ascontiguousarray(directions[:, -PROJECTED_WIDTH:], dtype=np.float32)
    return normalise(vectors @ leading), (
        normalise(labelled @ leading) if labelled is not None else None
    )


def kcenter(pool: Pool, size: int) -> Picked:
    """Greedy farthest-point (coreset): each pick is the candidate farthest from everything
    labelled or picked. Each candidate's similarity to its nearest centre is kept as one vector,
    raised in place against each new centre: O(n d) memory, never n x n, and three passes over n
    numbers a pick."""
    vectors, labelled = _projected(pool.embeddings, pool.labelled)
    closest = np.full(len(vectors), -np.inf, dtype=np.float32)  # cosine to the nearest centre
    if labelled is not None:
        closest = np.ascontiguousarray(nearest_labelled(labelled, vectors), dtype=np.float32)
    members = _sequence_members(pool.sequences)
    similarity = np.empty(len(vectors), dtype=np.float32)
    picks, scores = [], []
    for _ in range(min(size, len(vectors))):
        chosen = int(np.argmin(closest))  # all -inf before any centre: the first candidate
        if closest[chosen] >= TAKEN:  # every candidate picked or in a picked sequence
            break
        picks.append(chosen)
        scores.append(2.0 - 2.0 * float(closest[chosen]) if np.isfinite(closest[chosen]) else 4.0)
        np.dot(vectors, vectors[chosen], out=similarity)
        np.maximum(closest, similarity, out=closest)
        closest[members[chosen] if members is not None else chosen] = TAKEN
    return Picked(pool.ids[picks], np.array(scores))


TAKEN = 2.0  # above any cosine: marks a candidate picked, or one of a picked sequence


def _sequence_members(sequences: np.ndarray | None) -> list[np.ndarray] | None:
    """For each candidate, the rows of its sequence (one image per sequence: a pick takes its
    burst out)."""
    if sequences is None:
        return None
    _, group = np.unique(sequences, return_inverse=True)
    order = np.argsort(group, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(group[order])) + 1)
    return [groups[g] for g in group]


def typical(pool: Pool, size: int, seed: int = 0) -> Picked:
    """Cold start: the image nearest the centre of each of `size` clusters: what the pool mostly
    looks like."""
    vectors = normalise(pool.embeddings)
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        max(1, min(size, len(vectors))),
        niter=15,
        seed=seed,
        spherical=True,
        max_points_per_centroid=256,
    )
    kmeans.train(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    similarity, nearest = index.search(_centroids(kmeans), min(16, len(vectors)))
    rows, scores, used = [], [], set()
    for row_ids, row_scores in zip(
        nearest, similarity, strict=True
    ):  # two centres may share a nearest image
        free = [
            (i, s)
            for i, s in zip(row_ids, row_scores, strict=True)
            if i >= 0
            and i not in rows
            and (pool.sequences is None or pool.sequences[i] not in used)
        ]
        if free:
            rows.append(int(free[0][0]))
            scores.append(float(free[0][1]))
            if pool.sequences is not None:
                used.add(pool.sequences[free[0][0]])
    return Picked(pool.ids[rows], np.array(scores))


def _centroids(kmeans: faiss.Kmeans) -> np.ndarray:
    """A trained k-means' centres (faiss leaves them None only before training)."""
    if kmeans.centroids is None:
        raise ValueError("k-means has no centres before it is trained")
    return kmeans.centroids


def hybrid(
    pool: Pool,
    size: int,
    *,
    seed: int = 0,
    oversample: int = 10,
    rare_boost: float = 1.0,
    duplicate_cosine: float = 0.97,
) -> Picked:
    """Part of the batch covers what nothing labelled resembles yet, the rest goes to the least sure
    images. The covering share is classes / (classes + labels): while the head has seen few labels
    per class its uncertainty says little (it is sure of classes it never saw), so a young pool is
    mostly explored; a pool with thousands of labels is almost all uncertainty."""
    if pool.probabilities is None:
        return typical(pool, size, seed)
    classes = pool.probabilities.shape[1]
    labels = (
        int(pool.rarity.sum())
        if pool.rarity is not None
        else (0 if pool.labelled is None else len(pool.labelled))
    )
    explore = round(size * classes / (classes + labels))
    covering = _uncovered_typical(pool, explore, seed) if explore else np.zeros(0, dtype=np.int64)
    uncertain = _uncertain_spread(
        pool,
        size - len(covering),
        covering,
        seed=seed,
        oversample=oversample,
        rare_boost=rare_boost,
        duplicate_cosine=duplicate_cosine,
    )
    rows = np.concatenate([covering, uncertain])
    return Picked(pool.ids[rows], _boosted_margin(pool, rare_boost)[rows])


def _boosted_margin(pool: Pool, rare_boost: float) -> np.ndarray:
    score = uncertainty(pool.head_probabilities, "margin")
    if pool.rarity is not None:
        predicted = pool.head_probabilities.argmax(axis=1)
        score = score * (1.0 + rare_boost / np.sqrt(1.0 + pool.rarity[predicted]))
    return score


def _uncovered_typical(
    pool: Pool, size: int, seed: int, *, sample: int = 10_000, labelled_cap: int = 1_000
) -> np.ndarray:
    """Rows of the most central image of each of the largest clusters that hold no labelled image
    (typicality, not outliers: k-center's farthest points are often glare and blur). Clustered: a
    sample of the candidates with (a sample of) the labelled images, into as many clusters as there
    are labelled images plus picks."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(pool.ids), min(len(pool.ids), sample), replace=False)
    vectors = normalise(pool.embeddings[rows])
    labelled = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    if pool.labelled is not None and len(pool.labelled):
        keep = rng.choice(len(pool.labelled), min(len(pool.labelled), labelled_cap), replace=False)
        labelled = normalise(pool.labelled[keep])
    k = min(len(rows), size + len(labelled))
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=10,
        seed=seed,
        spherical=True,
        max_points_per_centroid=64,
        min_points_per_centroid=1,
        verbose=False,
    )
    kmeans.train(np.concatenate([vectors, labelled]))
    closeness, assigned = (column[:, 0] for column in kmeans.index.search(vectors, 1))
    covered = set(kmeans.index.search(labelled, 1)[1][:, 0].tolist()) if len(labelled) else set()
    sizes = np.bincount(assigned, minlength=k)
    picks: list[int] = []
    used: set[object] = set()
    for cluster in sorted(range(k), key=lambda c: (c in covered, -sizes[c])):
        if len(picks) == size:
            break
        members = np.flatnonzero(assigned == cluster)
        for member in members[np.argsort(-closeness[members], kind="stable")]:
            sequence = pool.sequences[rows[member]] if pool.sequences is not None else rows[member]
            if sequence not in used:
                used.add(sequence)
                picks.append(int(rows[member]))
                break
    return np.array(picks, dtype=np.int64)


def _uncertain_spread(
    pool: Pool,
    size: int,
    taken: np.ndarray,
    *,
    seed: int,
    oversample: int,
    rare_boost: float,
    duplicate_cosine: float,
) -> np.ndarray:
    """Rows of the lowest-margin candidates spread over FAISS clusters (cluster-margin style),
    skipping the sequences already `taken`, near-copies of labelled images and near-copies of
    each other."""
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    score = _boosted_margin(pool, rare_boost)
    score[taken] = -np.inf
    if pool.sequences is not None and len(taken):
        score[np.isin(pool.sequences, pool.sequences[taken])] = -np.inf
    order = _one_per_sequence(_ranked(score, seed), pool.sequences, size * oversample)
    order = order[np.isfinite(score[order])]
    if not len(order):
        return np.zeros(0, dtype=np.int64)
    near = _near_labelled(pool, order, duplicate_cosine)
    order = (
        order[~near] if not near.all() else order
    )  # all near-copies: better a near-copy than nothing
    vectors = normalise(pool.embeddings[order])
    clusters = _kmeans(vectors, size, seed)
    picks: list[int] = []
    chosen = np.zeros((size, vectors.shape[1]), dtype=np.float32)
    for rank in _round_robin(clusters):
        if len(picks) == size:
            break
        if picks and float(np.max(chosen[: len(picks)] @ vectors[rank])) >= duplicate_cosine:
            continue  # a near-copy of a pick teaches the expert nothing new
        chosen[len(picks)] = vectors[rank]
        picks.append(rank)
    rows: np.ndarray = order[picks]
    return rows


def _near_labelled(pool: Pool, rows: np.ndarray, duplicate_cosine: float) -> np.ndarray:
    """Which candidate rows are near-copies of an image already labelled (its label is as good
    as theirs)."""
    if pool.labelled is None or not len(pool.labelled) or not len(rows):
        return np.zeros(len(rows), dtype=bool)
    similarity = nearest_labelled(normalise(pool.labelled), normalise(pool.embeddings[rows]))
    near: np.ndarray = similarity >= duplicate_cosine
    return near


def _round_robin(clusters: np.ndarray) -> list[int]:
    """Positions (already sorted by decreasing score) taken one per cluster in turn: the most
    uncertain of each cluster first, then the second most uncertain of each, and so on."""
    rank_in_cluster = np.zeros(len(clusters), dtype=np.int64)
    seen: dict[int, int] = {}
    for position, cluster in enumerate(clusters):
        rank_in_cluster[position] = seen.get(int(cluster), 0)
        seen[int(cluster)] = rank_in_cluster[position] + 1
    return list(np.lexsort((np.arange(len(clusters)), rank_in_cluster)))


RELIABILITY_SAMPLE = 2_000  # labelled images the reliability estimate compares (m x m similarities)


def reliability(pool: Pool, seed: int = 0) -> float | None:
    """How far the labels so far generalise to sequences not labelled yet: leave-one-sequence-out
    nearest-neighbour accuracy of the labelled images (a frame's nearest labelled frame from another
    sequence has its label). Low while classes have a single labelled sequence or overlap; None
    before two sequences are labelled."""
    if pool.labelled is None or pool.labelled_labels is None or pool.labelled_sequences is None:
        return None
    if len(np.unique(pool.labelled_sequences)) < 2:
        return None
    rows = np.arange(len(pool.labelled))
    if len(rows) > RELIABILITY_SAMPLE:
        rows = np.random.default_rng(seed).choice(rows, RELIABILITY_SAMPLE, replace=False)
    vectors = normalise(pool.labelled[rows])
    similarity = vectors @ vectors.T
    sequences = pool.labelled_sequences[rows]
    similarity[sequences[:, None] == sequences[None, :]] = -np.inf  # its own burst says nothing
    nearest = similarity.argmax(axis=1)
    labels = pool.labelled_labels[rows]
    return float((labels[nearest] == labels).mean())


def _sequence_probabilities(pool: Pool) -> np.ndarray:
    """Each candidate's probabilities replaced by its sequence's mean (a verdict labels the whole
    sequence, so its uncertainty is the sequence's, as DeepFaune pools frames)."""
    if pool.sequences is None:
        return pool.head_probabilities
    _, group = np.unique(pool.sequences, return_inverse=True)
    means: np.ndarray = _group_sums(pool.head_probabilities, group) / np.bincount(group)[:, None]
    return means[group]


def _group_sums(values: np.ndarray, group: np.ndarray, *, chunk: int = 16_384) -> np.ndarray:
    """Row sums of `values` per group (groups numbered 0..k-1), a slice at a time: each slice is
    sorted by group and summed in runs, then added to its (distinct) groups' rows. Far quicker than
    an unbuffered add per row, and never a sorted copy of the whole matrix."""
    sums = np.zeros((int(group.max()) + 1, values.shape[1]), dtype=values.dtype)
    for start in range(0, len(values), chunk):
        part = group[start : start + chunk]
        order = np.argsort(part, kind="stable")
        runs = np.flatnonzero(np.r_[True, np.diff(part[order]) != 0])
        sums[part[order][runs]] += np.add.reduceat(
            values[start : start + chunk][order], runs, axis=0
        )
    return sums


def _sequence_kcenter(pool: Pool, size: int) -> np.ndarray:
    """Rows of k-center picks over whole sequences: each sequence stands as the mean of its frames
    (one odd frame of a burst, a flash or a blur, does not make its sequence look far), represented
    by its most central frame."""
    if pool.sequences is None:
        return np.flatnonzero(np.isin(pool.ids, kcenter(pool, size).ids))
    _, group = np.unique(pool.sequences, return_inverse=True)
    vectors = normalise(pool.embeddings)
    means = normalise(_group_sums(vectors, group))
    closeness = np.concatenate(
        [
            np.einsum(
                "ij,ij->i", vectors[start : start + 16_384], means[group[start : start + 16_384]]
            )
            for start in range(0, len(vectors), 16_384)
        ]
    )  # in slices: no second n x d copy
    by_closeness = np.lexsort((-closeness, group))  # per sequence, its most central frame first
    first = np.r_[True, np.diff(group[by_closeness]) != 0]
    central = by_closeness[first]  # indexed by sequence number
    picked = kcenter(Pool(np.arange(len(means)), means, labelled=pool.labelled), size).ids
    rows: np.ndarray = central[picked]
    return rows


def adaptive(pool: Pool, size: int, *, seed: int = 0, duplicate_cosine: float = 0.97) -> Picked:
    """Coverage while the labels do not yet generalise, uncertainty once they do, in the proportion
    the data says: a share (1 - reliability) of the batch goes to k-center coverage (the sequences
    farthest from everything labelled), the rest to the least sure sequences (margin of the
    sequence's pooled prediction, spread over clusters, near-copies skipped). No constant is tuned:
    the split is measured on the labels at hand."""
    if pool.probabilities is None:
        return typical(pool, size, seed)
    trust = reliability(pool, seed)
    explore = size if trust is None else int(round(size * (1.0 - trust)))
    rows = _sequence_kcenter(pool, explore) if explore else np.zeros(0, dtype=np.int64)
    pooled = Pool(
        pool.ids,
        pool.embeddings,
        _sequence_probabilities(pool),
        pool.sequences,
        pool.labelled,
        pool.rarity,
    )
    uncertain = _uncertain_spread(
        pooled,
        size - len(rows),
        rows,
        seed=seed,
        oversample=10,
        rare_boost=0.0,
        duplicate_cosine=duplicate_cosine,
    )
    chosen = np.concatenate([rows, uncertain])
    return Picked(pool.ids[chosen], uncertainty(pooled.head_probabilities[chosen], "margin"))


def select(
    pool: Pool, strategy: str, size: int, *, seed: int = 0, duplicate_cosine: float = 0.97
) -> Picked:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy == "random":
        rows = _random(pool, size, seed)
        return Picked(pool.ids[rows], np.zeros(len(rows)))
    if strategy in ("least_confidence", "margin", "entropy"):
        if pool.probabilities is None:
            raise ValueError(f"{strategy} needs predictions; use 'typical' before any head exists")
        score = uncertainty(pool.probabilities, strategy)
        rows = _one_per_sequence(_ranked(score, seed), pool.sequences, size)
        return Picked(pool.ids[rows], score[rows])
    if strategy == "kcenter":
        return kcenter(pool, size)
    if strategy == "typical":
        return typical(pool, size, seed)
    if strategy == "adaptive":
        return adaptive(pool, size, seed=seed, duplicate_cosine=duplicate_cosine)
    return hybrid(pool, size, seed=seed, duplicate_cosine=duplicate_cosine)
