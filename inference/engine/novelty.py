"""Possibly new taxa: unlabelled images that look like nothing labelled and that the model is unsure
of, grouped into clusters a coordinator can look at and name.

Every threshold is read off the scan's own data, so nothing is tuned per data set:
- spacing: for each labelled sequence, how similar its frames come to the nearest labelled image of
  another sequence (burst frames are near-copies of each other: they never count as neighbours, and
  a burst counts once);
- far: a candidate's nearest labelled image is less similar than that image's taxon allows,
  OUTLIER_MADS robust deviations (median absolute deviation) under the taxon's median spacing, and
  than all taxa pooled allow, the same way (a taxon with few labelled sequences can look tighter
  than it is);
- unsure: its top probability is under the median top probability the model gives the
  labelled images;
- clusters: average-linkage merging of the far and unsure images, stopped when two groups' images
  are on average less similar than halfway between the loosest labelled taxon (the mean similarity
  of its pairs of images) and the two most alike labelled taxa (the mean similarity across them):
  what the known taxa say separates "one taxon" from "two". A cluster spans MIN_SEQUENCES sequences
  (one burst is one animal);
- growing: an unsure candidate that is not far (a new taxon's image near a known one) joins a
  cluster when the cluster's centre is nearer than every labelled taxon's centre and the candidate
  is, on average, as similar to the cluster's images as merging asks;
- outliers: members whose similarity to the cluster's centre is OUTLIER_MADS robust deviations under
  the cluster's median.
Work is bounded: at most CANDIDATE_CAP candidates and LABELLED_CAP labelled images (random samples
beyond), FAISS k-nearest-neighbour searches, and merging over at most MICRO_CLUSTERS groups (FAISS
k-means first when there are more images): never an images x images matrix."""

from dataclasses import dataclass

import faiss
import numpy as np

from faune_platform.errors import InputRefused
from inference.engine.similarity import normalise

CANDIDATE_CAP = 20_000
LABELLED_CAP = 20_000
MICRO_CLUSTERS = 512
NEIGHBOURS = 10  # searched for each labelled image to find one outside its own sequence
MIN_LABELLED_SEQUENCES = 20  # fewer, and "far from every labelled image" means nothing yet
MIN_TAXON_SEQUENCES = 30  # fewer, and a taxon's own spacing is too noisy: the pooled one stands in
MIN_TAXON_IMAGES = 5  # a taxon smaller than this says nothing about how alike its images are
MIN_SEQUENCES = 3
OUTLIER_MADS = 3.0
MAD_TO_SIGMA = (
    1.4826  # a normal distribution's standard deviation is 1.4826 median absolute deviations
)


class NoveltyError(InputRefused):
    """The data cannot support a scan (too few labelled images to learn what "close" means)."""


@dataclass(frozen=True)
class Images:
    ids: np.ndarray  # (n,) image ids
    embeddings: np.ndarray  # (n, d)
    confidence: np.ndarray | None = None  # (n,) the model's top probability; NaN where it has none
    sequences: np.ndarray | None = None  # (n,) sequence id of each image; None: each image its own
    labels: np.ndarray | None = None  # (n,) taxon id of each labelled image

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, rows: np.ndarray) -> "Images":
        def take(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[rows]

        return Images(
            self.ids[rows],
            self.embeddings[rows],
            take(self.confidence),
            take(self.sequences),
            take(self.labels),
        )

    @property
    def sequence_ids(self) -> np.ndarray:
        return self.ids if self.sequences is None else self.sequences

    @property
    def taxa(self) -> np.ndarray:
        """The labels of labelled images (`thresholds_from` refuses labelled images without
        them first)."""
        if self.labels is None:
            raise ValueError("labelled images come with their taxa (`labels`)")
        return self.labels


@dataclass(frozen=True)
class Thresholds:
    far_by_taxon: dict[
        int, float
    ]  # nearest labelled image of this taxon less similar than this: far
    far_similarity: (
        float  # the same, all taxa pooled (and the only one for taxa with few sequences)
    )
    confidence: float  # a top probability under this is unsure
    linkage: float  # groups whose images are on average at least this similar may merge


@dataclass(frozen=True)
class Cluster:
    ids: np.ndarray  # member image ids, most typical first
    typicality: np.ndarray  # each member's cosine similarity to the cluster's centre
    outliers: np.ndarray  # (members,) bool: too far from the centre to be labelled with the rest


@dataclass(frozen=True)
class Scan:
    thresholds: Thresholds
    scanned: int  # candidates looked at (after the cap)
    labelled: int  # labelled images compared with (after the cap)
    possibly_new: int  # candidates far and unsure
    joined: int  # unsure candidates, not far, that joined a cluster
    clusters: list[Cluster]  # largest first
    scattered: int  # far and unsure but in no cluster


def sample(images: Images, cap: int, seed: int) -> Images:
    """At most `cap` images, drawn at random (spread over the pool, not its oldest part)."""
    if len(images) <= cap:
        return images
    return images.rows(np.sort(np.random.default_rng(seed).choice(len(images), cap, replace=False)))


def _flat_index(vectors: np.ndarray) -> faiss.IndexFlatIP:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def robust_floor(values: np.ndarray) -> float:
    """OUTLIER_MADS robust standard deviations under the median: a value below it is an outlier of
    `values`, whatever their scale, and a few stray values do not move it."""
    median = float(np.median(values))
    return median - OUTLIER_MADS * MAD_TO_SIGMA * float(np.median(np.abs(values - median)))


def tightness(squared: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean cosine similarity over the distinct pairs of each group of unit vectors, from the
    squared norm of the group's vector sum: that is every pair twice plus each vector with
    itself. Unlike the similarity to the group's mean, it does not flatter small groups. NaN for
    a lone image."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 1, (squared - counts) / (counts * (counts - 1.0)), np.nan)


def _group_sums(
    vectors: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group keys, vector sum of each group, size of each group)."""
    keys, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(keys), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse.ravel(), vectors)
    return keys, sums, np.bincount(inverse.ravel(), minlength=len(keys)).astype(np.float64)


def nearest_other(vectors: np.ndarray, sequences: np.ndarray) -> np.ndarray:
    """Each unit vector's similarity to its nearest vector of another sequence; NaN where all of
    its NEIGHBOURS nearest share its sequence (a long burst says nothing about how far apart
    images are)."""
    similarity, found = _flat_index(vectors).search(vectors, min(NEIGHBOURS + 1, len(vectors)))
    other = (found >= 0) & (sequences[np.clip(found, 0, None)] != sequences[:, None])
    nearest = similarity[np.arange(len(vectors)), np.argmax(other, axis=1)]
    return np.where(other.any(axis=1), nearest, np.nan)


def spacing_by_sequence(labelled: Images) -> tuple[np.ndarray, np.ndarray]:
    """One spacing per labelled sequence and taxon (the closest any of its frames comes to another
    sequence), and its taxon: a burst's frames share one nearest neighbour, and counting it once per
    frame would make one sequence look like several agreeing ones."""
    spacing = nearest_other(normalise(labelled.embeddings), labelled.sequence_ids)
    kept = np.isfinite(spacing)
    keys = np.stack([labelled.sequence_ids[kept], labelled.taxa[kept]], axis=1)
    unique, groups = np.unique(keys, axis=0, return_inverse=True)
    closest = np.full(len(unique), -np.inf)
    np.maximum.at(closest, groups.ravel(), spacing[kept])
    return closest, unique[:, 1]


def _far_by_taxon(spacing: np.ndarray, taxa: np.ndarray) -> dict[int, float]:
    """Each taxon's own yardstick: a loose taxon (birds) has its images farther apart than a
    tight one."""
    return {
        int(taxon): robust_floor(spacing[taxa == taxon])
        for taxon in np.unique(taxa)
        if (taxa == taxon).sum() >= MIN_TAXON_SEQUENCES
    }


def taxon_separation(labelled: Images) -> float:
    """Halfway between the loosest labelled taxon's mean pairwise similarity and the mean similarity
    across the two most alike taxa (taxa of MIN_TAXON_IMAGES images or more)."""
    _, sums, counts = _group_sums(normalise(labelled.embeddings), labelled.taxa)
    kept = counts >= MIN_TAXON_IMAGES
    if kept.sum() < 2:
        raise NoveltyError(
            f"Fewer than two labelled taxa have {MIN_TAXON_IMAGES} images: nothing says how "
            "alike the images of one taxon are, compared with two taxa."
        )
    gram = sums[kept] @ sums[kept].T
    across = gram / np.outer(counts[kept], counts[kept])
    np.fill_diagonal(across, -np.inf)
    return float((np.nanmin(tightness(np.diag(gram), counts[kept])) + across.max()) / 2)


def confidence_threshold(labelled: Images, candidates: Images | None) -> float:
    """The median top probability on labelled images; on the candidates when no labelled image
    has one."""
    for images in (labelled, candidates):
        values = (
            images.confidence
            if images is not None and images.confidence is not None
            else np.zeros(0)
        )
        known = values[np.isfinite(values)]
        if len(known):
            return float(np.median(known))
    return np.inf  # no probabilities at all: every candidate counts as unsure


def thresholds_from(labelled: Images, candidates: Images) -> Thresholds:
    """The scan's thresholds, read off the labelled images (see the module's docstring)."""
    if labelled.labels is None:
        raise ValueError("labelled images come with their taxa (`labels`)")
    if len(labelled) < 2:
        raise NoveltyError(
            f"{len(labelled)} labelled image(s): at least {MIN_LABELLED_SEQUENCES} labelled "
            "sequences are needed to tell what 'far from every labelled image' means."
        )
    spacing, taxa = spacing_by_sequence(labelled)
    if len(spacing) < MIN_LABELLED_SEQUENCES:
        raise NoveltyError(
            f"Only {len(spacing)} labelled sequences have a labelled neighbour in another "
            f"sequence; at least {MIN_LABELLED_SEQUENCES} are needed to tell what 'far from "
            "every labelled image' means."
        )
    return Thresholds(
        far_by_taxon=_far_by_taxon(spacing, taxa),
        far_similarity=robust_floor(spacing),
        confidence=confidence_threshold(labelled, candidates),
        linkage=taxon_separation(labelled),
    )


def _unsure(candidates: Images, thresholds: Thresholds) -> np.ndarray:
    if candidates.confidence is None:
        return np.ones(len(candidates), dtype=bool)
    return ~(candidates.confidence >= thresholds.confidence)  # NaN (no prediction) counts as unsure


def possibly_new(candidates: Images, labelled: Images, thresholds: Thresholds) -> np.ndarray:
    """Rows of the candidates that are far from every labelled image and that the model is
    unsure of."""
    if not len(candidates):
        return np.zeros(0, dtype=np.int64)
    index = _flat_index(normalise(labelled.embeddings))
    similarity, nearest = index.search(normalise(candidates.embeddings), 1)
    taxa = labelled.taxa[nearest[:, 0]]
    own = np.array([thresholds.far_by_taxon.get(int(t), thresholds.far_similarity) for t in taxa])
    far = similarity[:, 0] < np.minimum(own, thresholds.far_similarity)
    return np.flatnonzero(far & _unsure(candidates, thresholds))


def _micro_clusters(vectors: np.ndarray, linkage: float, seed: int) -> np.ndarray:
    """Where merging starts: each image alone, or, past MICRO_CLUSTERS images, FAISS spherical
    k-means groups (fine enough that a taxon spans several; the merging decides how many clusters
    there are). A k-means group whose images are on average less similar than `linkage` holds no
    taxon, only strays k-means had to put somewhere: -1, left out."""
    if len(vectors) <= MICRO_CLUSTERS:
        return np.arange(len(vectors))
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        MICRO_CLUSTERS,
        niter=20,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=256,
        min_points_per_centroid=1,
    )
    kmeans.train(vectors)
    groups = kmeans.index.search(vectors, 1)[1][:, 0]
    keys, sums, counts = _group_sums(vectors, groups)
    loose = keys[tightness(np.einsum("ij,ij->i", sums, sums), counts) < linkage]
    return np.where(np.isin(groups, loose), -1, groups)


def merged(vectors: np.ndarray, start: np.ndarray, linkage: float) -> np.ndarray:
    """Average-linkage merging: join the two groups whose images are the most similar on average
    (pair by pair, across the two), again and again while that average reaches `linkage`. A stray
    image is on average far from every group, so it stays alone instead of being swallowed. Groups
    are kept as vector sums: each step costs a groups x groups matrix, never an images x images one.
    Returns a group number per vector."""
    _, groups = np.unique(start, return_inverse=True)
    groups = groups.ravel()
    _, sums, counts = _group_sums(vectors, groups)
    gram = sums @ sums.T
    alive = np.ones(len(counts), dtype=bool)
    while alive.sum() > 1:
        average = gram / np.outer(counts, counts)
        average[~alive, :] = average[:, ~alive] = -np.inf
        np.fill_diagonal(average, -np.inf)
        a, b = np.unravel_index(np.argmax(average), average.shape)
        if average[a, b] < linkage:
            break
        gram[a, :] += gram[
            b, :
        ]  # a's sum is now a + b: its products with every group, and with itself
        gram[:, a] += gram[:, b]
        counts[a] += counts[b]
        alive[b] = False
        groups[groups == b] = a
    return groups


def _clusters(candidates: Images, rows: np.ndarray, linkage: float, seed: int) -> list[np.ndarray]:
    """Candidate rows of each cluster of the possibly-new `rows` that spans
    MIN_SEQUENCES sequences."""
    if len(rows) < 2:
        return []
    vectors = normalise(candidates.embeddings[rows])
    start = _micro_clusters(vectors, linkage, seed)
    rows, vectors, start = rows[start >= 0], vectors[start >= 0], start[start >= 0]
    groups = merged(vectors, start, linkage)
    members = [rows[groups == group] for group in np.unique(groups)]
    return [r for r in members if len(np.unique(candidates.sequence_ids[r])) >= MIN_SEQUENCES]


def _grown(
    clusters: list[np.ndarray], candidates: Images, labelled: Images, thresholds: Thresholds
) -> list[np.ndarray]:
    """Each cluster with the unsure candidates that join it (see the module's docstring): a new
    taxon's images near a known taxon are not far, yet they are nearer their own kind than any
    labelled taxon."""
    if not clusters:
        return clusters
    vectors = normalise(candidates.embeddings)
    taken = np.concatenate(clusters)
    pool = np.flatnonzero(
        _unsure(candidates, thresholds) & ~np.isin(np.arange(len(candidates)), taken)
    )
    _, known, _ = _group_sums(normalise(labelled.embeddings), labelled.taxa)
    sums = np.stack([vectors[rows].sum(axis=0) for rows in clusters])
    sizes = np.array([len(rows) for rows in clusters])
    unsure = vectors[pool]
    towards = unsure @ normalise(sums).T
    best = towards.argmax(axis=1)
    nearer = towards[np.arange(len(pool)), best] > (unsure @ normalise(known).T).max(axis=1)
    alike = np.einsum("ij,ij->i", unsure, sums[best]) / sizes[best] >= thresholds.linkage
    return [
        np.concatenate([rows, pool[nearer & alike & (best == k)]])
        for k, rows in enumerate(clusters)
    ]


def describe(ids: np.ndarray, vectors: np.ndarray) -> Cluster:
    """Members by typicality (similarity to the centre, best first), outliers under the
    robust floor."""
    typicality = vectors @ normalise(vectors.sum(axis=0, keepdims=True))[0]
    order = np.argsort(-typicality, kind="stable")
    return Cluster(
        ids=ids[order],
        typicality=typicality[order],
        outliers=typicality[order] < robust_floor(typicality),
    )


def novelty_scan(candidates: Images, labelled: Images, *, seed: int = 0) -> Scan:
    """The whole scan: thresholds from the labelled images, the possibly-new candidates,
    their clusters."""
    candidates, labelled = (
        sample(candidates, CANDIDATE_CAP, seed),
        sample(labelled, LABELLED_CAP, seed),
    )
    thresholds = thresholds_from(labelled, candidates)
    rows = possibly_new(candidates, labelled, thresholds)
    found = _clusters(candidates, rows, thresholds.linkage, seed)
    grown = _grown(found, candidates, labelled, thresholds)
    vectors = normalise(candidates.embeddings)
    clusters = sorted(
        (describe(candidates.ids[r], vectors[r]) for r in grown), key=lambda c: -len(c.ids)
    )
    clustered = sum(len(r) for r in found)
    return Scan(
        thresholds=thresholds,
        scanned=len(candidates),
        labelled=len(labelled),
        possibly_new=len(rows),
        joined=sum(len(r) for r in grown) - clustered,
        clusters=clusters,
        scattered=len(rows) - clustered,
    )
