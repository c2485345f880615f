"""Active learning replayed on a labelled dataset: how many expert actions each selection strategy
needs to approach what the whole pool would teach. Everything real is reused (the platform's
embedding and crops, sequence grouping, the selection code, the rounds' head trainer); only the
expert is simulated, by an oracle that reveals the label of an image when, and only when, a strategy
picks it.

Experts pay per action. In `sequence` units (the default, as the review desk works) a pick labels
every frame of its sequence and costs one action; in `image` units a pick labels one frame. Random
means random sequences in sequence units. For one seed every strategy shares the test split (a
quarter of the sequences, never single frames) and the random start set, so curves are paired and
differences between strategies are not split or start-set luck. The dataset is read elsewhere
(training/services/simulation_data.py): this engine receives its items.
"""

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from faune_platform.boxes import Box
from faune_platform.errors import InputRefused
from inference.engine.aggregate import class_probabilities
from inference.engine.backbones import load_efficientnet_lite0
from inference.engine.preprocess import CropRequest, load_crop
from inference.engine.selection import Pool, select
from inference.engine.specs import EFFICIENTNET_LITE0
from training.engine.few_labels import learn_head
from training.engine.heads import HeadConfig, TrainedHead, head_logits
from training.engine.metrics import macro_f1
from training.engine.splits import stable_fraction

SPLIT_SALT = "faune-simulation-v1"
TARGET_SHARE = 0.9  # a strategy's target: this share of the full-pool macro-F1
UNITS = ("sequence", "image")


class SimulationError(InputRefused):
    """The dataset cannot be simulated on; the message says why."""


@dataclass(frozen=True)
class Item:
    """One labelled image as the pipeline would embed it."""

    path: str
    box: Box | None
    class_name: str
    sequence: str


@dataclass
class LabelledSet:
    embeddings: np.ndarray  # (n, d) float32
    labels: np.ndarray  # (n,) class index
    sequences: np.ndarray  # (n,) sequence key
    class_names: list[str]
    arrival: np.ndarray | None = (
        None  # (n,) round at which the image joins the pool (0: from the start)
    )


@dataclass(frozen=True)
class SimulationConfig:
    seed_size: int = 8  # actions spent at random before the first round
    batch_size: int = 8  # actions per round
    budget: int = 120  # actions at which a campaign stops
    test_fraction: float = 0.25
    unit: str = "sequence"  # what one expert action labels: a whole sequence, or one image
    label_noise: float = (
        0.0  # share of the oracle's answers that are wrong (the test split stays exact)
    )
    head: HeadConfig = field(default_factory=HeadConfig)


@dataclass(frozen=True)
class Point:
    strategy: str
    seed: int
    actions: (
        int  # expert actions spent when the head was trained (sequences or images, by the unit)
    )
    images: int  # labelled images at that moment
    accuracy: float
    macro_f1: float


@dataclass
class Simulation:
    points: list[Point]
    full_pool: list[
        tuple[float, float]
    ]  # (accuracy, macro-F1) of a head trained on the whole pool, per seed


def labelled_set(items: list[Item], embeddings: np.ndarray) -> LabelledSet:
    names = sorted({item.class_name for item in items})
    return LabelledSet(
        embeddings.astype(np.float32),
        np.array([names.index(i.class_name) for i in items]),
        np.array([i.sequence for i in items]),
        names,
    )


# --- embedding, cached ----------------------------------------------------------------------------


def _cache_key(request: CropRequest, backbone_key: str) -> str:
    stat = Path(request.path).stat()
    box = (
        request.box.to_tuple() if request.box else None
    )  # as keys were written before Box: caches stay valid
    return f"{backbone_key}|{request.path}|{stat.st_size}|{stat.st_mtime_ns}|{box}"


def _read_cache(path: Path | None) -> dict[str, np.ndarray]:
    if path is None or not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))


def _write_cache(path: Path | None, vectors: dict[str, np.ndarray]) -> None:
    if path is None or not vectors:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    with partial.open(
        "wb"
    ) as handle:  # written aside then moved, so an interrupted run leaves the old cache
        np.savez(handle, keys=np.array(list(vectors)), vectors=np.stack(list(vectors.values())))
    partial.replace(path)


def embed(
    requests: list[CropRequest],
    *,
    cache: Path | None = None,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The platform's default embedding of each crop, and which files could be read. Only files
    missing from the cache (keyed by path, size, modification time, box and backbone) are run
    through the model."""
    keys = [_cache_key(request, EFFICIENTNET_LITE0.key) for request in requests]
    known = _read_cache(cache)
    missing = [row for row, key in enumerate(keys) if key not in known]
    if missing:
        for rows, vectors in _run_backbone(
            [requests[row] for row in missing], batch_size, on_progress
        ):
            known.update(
                {keys[missing[row]]: vector for row, vector in zip(rows, vectors, strict=True)}
            )
        _write_cache(cache, known)
    readable = np.array([key in known for key in keys])
    dim = len(next(iter(known.values()))) if known else 0
    return np.stack([known.get(key, np.zeros(dim, np.float32)) for key in keys]), readable


def _run_backbone(
    requests: list[CropRequest], batch_size: int, on_progress: Callable[[int, int], None] | None
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield (positions, embeddings) per batch; the next batch is decoded in threads while this
    one runs."""

    def decode(request: CropRequest) -> torch.Tensor | None:
        try:
            return load_crop(request, EFFICIENTNET_LITE0)
        except (
            OSError,
            ValueError,
        ):  # a damaged file is skipped, not fatal: it is counted as unreadable
            return None

    model = load_efficientnet_lite0()
    starts = list(range(0, len(requests), batch_size))
    with ThreadPoolExecutor(max_workers=2) as pool, torch.inference_mode():
        upcoming = pool.map(
            decode, requests[:batch_size]
        )  # map submits at once: decoding starts here
        for number, start in enumerate(starts):
            tensors = list(upcoming)
            if number + 1 < len(starts):
                upcoming = pool.map(
                    decode, requests[starts[number + 1] : starts[number + 1] + batch_size]
                )
            rows = [start + i for i, tensor in enumerate(tensors) if tensor is not None]
            if rows:
                _, vectors = model(
                    torch.stack([tensor for tensor in tensors if tensor is not None])
                )
                yield rows, vectors.float().numpy()
            if on_progress:
                on_progress(start + len(tensors), len(requests))


# --- one simulated campaign -----------------------------------------------------------------------


class Oracle:
    """The simulated expert: the label of an image is known only once a strategy asked for it. With
    label noise, a fixed share of answers (the same images whatever the strategy, for a seed) names
    another class."""

    def __init__(
        self, labels: np.ndarray, *, noise: float = 0.0, classes: int = 0, seed: int = 0
    ) -> None:
        self._labels = labels.copy()
        if noise > 0:
            rng = np.random.default_rng(10_000 + seed)
            wrong = rng.random(len(labels)) < noise
            shift = rng.integers(1, max(classes, 2), size=len(labels))
            self._labels[wrong] = (labels[wrong] + shift[wrong]) % max(classes, 2)
        self.revealed: list[int] = []

    def reveal(self, rows: np.ndarray) -> np.ndarray:
        self.revealed.extend(int(row) for row in rows)
        labels: np.ndarray = self._labels[rows]
        return labels


def held_out(sequences: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """Whole sequences to the test side: the `fraction` of them with the smallest hash of (seed,
    sequence), at least one and never all, so a tiny dataset still has both sides."""
    unique = np.unique(sequences)
    if len(unique) < 2:
        raise SimulationError("the dataset has a single sequence; test and pool need one each")
    ranked = sorted(unique.tolist(), key=lambda key: stable_fraction(f"{seed}:{key}", SPLIT_SALT))
    count = min(max(1, round(fraction * len(unique))), len(unique) - 1)
    return np.isin(sequences, ranked[:count])


def seed_rows(pool: np.ndarray, sequences: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A random start set: one image per sequence while sequences last (sequences drawn uniformly,
    whatever their length), then further frames."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(np.unique(sequences[pool]))
    order = rng.permutation(pool)
    firsts = np.array([order[sequences[order] == key][0] for key in keys[:size]], dtype=np.int64)
    rest = order[~np.isin(order, firsts)]
    return np.concatenate([firsts, rest])[:size]


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    config: HeadConfig,
    groups: np.ndarray | None = None,
) -> TrainedHead:
    # Platform rounds stop training and fit the temperature on a validation split of sequences; a
    # campaign of a few dozen labels has none to spare, so the labelled images serve as validation
    # too: training stops soon after it fits them. A temperature fitted on images the head was
    # trained on only says how well it memorised them (it sinks to its floor), so the campaign keeps
    # the uncalibrated probabilities (temperature 1); a prototype head chosen by cross-validation
    # has out-of-fold logits to fit one on honestly.
    return learn_head(
        (features, labels),
        (features, labels),
        num_classes,
        replace(config, calibrate=False),
        groups=groups,
    )


def score(head: TrainedHead, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    predicted = head_logits(head, features).argmax(axis=1)
    return float((predicted == labels).mean()), macro_f1(labels, predicted)


def _pick_from(
    data: LabelledSet,
    unlabelled: np.ndarray,
    head: TrainedHead,
    labelled: np.ndarray,
    known: np.ndarray,
    strategy: str,
    size: int,
    seed: int,
) -> np.ndarray:
    """The strategy's picks among the unlabelled pool (one image per sequence), fed as the platform
    feeds it: the head's probabilities, sequences, the labelled embeddings (k-center, near-copies)
    and the labelled count per class (rare-taxa boost)."""
    features = data.embeddings[unlabelled]
    pool = Pool(
        ids=unlabelled,
        embeddings=features,
        probabilities=class_probabilities(
            head_logits(head, features), temperature=head.temperature
        ),
        sequences=data.sequences[unlabelled],
        labelled=data.embeddings[labelled],
        rarity=np.bincount(known, minlength=len(data.class_names)),
        labelled_labels=known,
        labelled_sequences=data.sequences[labelled],
    )
    return select(pool, strategy, size, seed=seed).ids


BALANCED_ORACLE = "balanced-oracle"  # a reference for the bench, not a strategy: it reads labels


def balanced_oracle_picks(
    data: LabelledSet, unlabelled: np.ndarray, labelled: np.ndarray, size: int, seed: int
) -> np.ndarray:
    """What perfect class balance alone buys: knowing every label, each pick is a sequence of the
    class with the fewest labelled sequences so far (a random one of them). No platform strategy
    can run it; the suite reports it beside them, so that a target can be read against it."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(unlabelled)
    _, first = np.unique(data.sequences[shuffled], return_index=True)
    candidates = shuffled[np.sort(first)]  # one random frame of each sequence, in random order
    _, labelled_first = np.unique(data.sequences[labelled], return_index=True)
    counts = np.bincount(
        data.labels[labelled[labelled_first]], minlength=len(data.class_names)
    ).astype(float)
    counts += rng.random(len(counts)) * 1e-3  # ties between classes broken at random
    free = np.ones(len(candidates), dtype=bool)
    picks: list[int] = []
    for _ in range(min(size, len(candidates))):
        left = np.bincount(data.labels[candidates[free]], minlength=len(counts)) > 0
        wanted = int(np.argmin(np.where(left, counts, np.inf)))
        chosen = int(np.flatnonzero(free & (data.labels[candidates] == wanted))[0])
        picks.append(chosen)
        free[chosen] = False
        counts[wanted] += 1
    found: np.ndarray = candidates[picks]
    return found


@dataclass
class Campaign:
    """What one strategy has labelled so far, and what it cost."""

    data: LabelledSet
    unit: str
    oracle: Oracle
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    actions: int = 0

    def label(self, picks: np.ndarray, pool: np.ndarray) -> None:
        """Pay for the picks: one action each; in sequence units every pool frame of a pick's
        sequence is labelled with it (the expert's verdict covers the sequence; frames of another
        class are split off, free)."""
        self.actions += len(picks)
        if self.unit == "sequence":
            sequences = self.data.sequences
            picks = pool[np.isin(sequences[pool], sequences[picks])]
        picks = np.setdiff1d(picks, self.labelled)
        labelled = np.concatenate([self.labelled, picks])
        known = np.concatenate([self.known, self.oracle.reveal(picks)])
        # Kept in row order, not in the order they were bought: the head's training shuffles with
        # the seed, so the same labels in another order gave another head, and two strategies that
        # had labelled the very same images scored apart (by up to 0.02 macro-F1 once the pool ran
        # out) by the training's noise alone.
        order = np.argsort(labelled, kind="stable")
        self.labelled, self.known = labelled[order], known[order]


def _available(data: LabelledSet, pool: np.ndarray, round_number: int) -> np.ndarray:
    return pool if data.arrival is None else pool[data.arrival[pool] <= round_number]


def _more_to_come(data: LabelledSet, pool: np.ndarray, round_number: int) -> bool:
    return data.arrival is not None and bool((data.arrival[pool] > round_number).any())


def run_strategy(
    data: LabelledSet,
    test: np.ndarray,
    strategy: str,
    seed: int,
    config: SimulationConfig,
    oracle: Oracle | None = None,
) -> list[Point]:
    """Train, score on the test split, pick a batch, reveal its labels; round after round until
    the budget is spent or the pool runs out (a round with nothing new to pick waits for images
    that arrive later). Test labels are used for scoring only; selection sees labels through the
    oracle alone."""
    if config.unit not in UNITS:
        raise SimulationError(f"unknown unit {config.unit!r}; use one of {', '.join(UNITS)}")
    oracle = oracle or Oracle(
        data.labels, noise=config.label_noise, classes=len(data.class_names), seed=seed
    )
    pool, campaign = np.flatnonzero(~test), Campaign(data, config.unit, oracle)
    start = _available(data, pool, 0)
    campaign.label(
        seed_rows(start, data.sequences, min(config.seed_size, config.budget), seed), start
    )
    head_config, points, trained_at = replace(config.head, seed=seed), [], -1
    for round_number in itertools.count():
        if campaign.actions != trained_at:
            head = fit_head(
                data.embeddings[campaign.labelled],
                campaign.known,
                len(data.class_names),
                head_config,
                groups=data.sequences[campaign.labelled],
            )
            accuracy, f1 = score(head, data.embeddings[test], data.labels[test])
            points.append(
                Point(strategy, seed, campaign.actions, len(campaign.labelled), accuracy, f1)
            )
            trained_at = campaign.actions
        available = _available(data, pool, round_number)
        unlabelled = np.setdiff1d(available, campaign.labelled)
        room = min(config.batch_size, config.budget - campaign.actions)
        if room <= 0 or not (len(unlabelled) or _more_to_come(data, pool, round_number)):
            return points
        if not len(unlabelled):
            continue  # nothing to pick this round: later images have not arrived yet
        round_seed = (
            seed * 1009 + round_number
        )  # random picks and k-means differ per round and per seed
        picks = (
            balanced_oracle_picks(data, unlabelled, campaign.labelled, room, round_seed)
            if strategy == BALANCED_ORACLE
            else _pick_from(
                data,
                unlabelled,
                head,
                campaign.labelled,
                campaign.known,
                strategy,
                room,
                round_seed,
            )
        )
        if not len(picks):
            return points
        campaign.label(picks, available)
    raise AssertionError("unreachable: itertools.count() never ends, the rounds end by returning")


def full_pool_score(data: LabelledSet, test: np.ndarray, config: HeadConfig) -> tuple[float, float]:
    """The reference a campaign works toward: every pool image labelled, the same head, the same
    test split."""
    pool = ~test
    head = fit_head(
        data.embeddings[pool],
        data.labels[pool],
        len(data.class_names),
        config,
        groups=data.sequences[pool],
    )
    return score(head, data.embeddings[test], data.labels[test])


def simulate(
    data: LabelledSet,
    strategies: list[str],
    seeds: int,
    config: SimulationConfig,
    on_progress: Callable[[str], None] | None = None,
) -> Simulation:
    result = Simulation([], [])
    for seed in range(seeds):
        test = held_out(data.sequences, seed, config.test_fraction)
        result.full_pool.append(full_pool_score(data, test, replace(config.head, seed=seed)))
        for strategy in strategies:
            points = run_strategy(data, test, strategy, seed, config)
            result.points += points
            if on_progress:
                last = points[-1]
                on_progress(
                    f"seed {seed} {strategy}: {last.actions} actions ({last.images} images), "
                    f"accuracy {last.accuracy:.3f}, macro-F1 {last.macro_f1:.3f} (full pool "
                    f"{result.full_pool[-1][1]:.3f})"
                )
    return result


# --- curves ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveRow:
    strategy: str
    actions: int
    seeds: (
        int  # how many seeds reached this many actions (a small pool can run out before the budget)
    )
    images_mean: float
    accuracy_mean: float
    accuracy_std: float
    macro_f1_mean: float
    macro_f1_std: float


def _spread(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def curves(points: list[Point]) -> list[CurveRow]:
    """Mean and spread over seeds of each (strategy, action count), in the order strategies
    first appear."""
    groups: dict[tuple[str, int], list[Point]] = {}
    for point in points:
        groups.setdefault((point.strategy, point.actions), []).append(point)
    order = list(dict.fromkeys(point.strategy for point in points))
    rows = []
    for (strategy, actions), group in sorted(
        groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
    ):
        accuracy, f1 = [p.accuracy for p in group], [p.macro_f1 for p in group]
        rows.append(
            CurveRow(
                strategy,
                actions,
                len(group),
                float(np.mean([p.images for p in group])),
                float(np.mean(accuracy)),
                _spread(accuracy),
                float(np.mean(f1)),
                _spread(f1),
            )
        )
    return rows


def budget_grid(config: SimulationConfig) -> np.ndarray:
    """The action counts every campaign is compared at: the start set, then one batch more
    each round."""
    return np.unique(
        np.minimum(
            np.arange(config.seed_size, config.budget + config.batch_size, config.batch_size),
            config.budget,
        )
    )


def seed_curves(points: list[Point], strategy: str, grid: np.ndarray) -> dict[int, np.ndarray]:
    """{seed: macro-F1 at each grid point}. A campaign whose pool ran out keeps its last figure
    (everything was labelled: more actions could not change it)."""
    by_seed: dict[int, list[Point]] = {}
    for point in points:
        if point.strategy == strategy:
            by_seed.setdefault(point.seed, []).append(point)
    found = {}
    for seed, rows in by_seed.items():
        rows.sort(key=lambda point: point.actions)
        actions = np.array([point.actions for point in rows])
        values = np.array([point.macro_f1 for point in rows])
        found[seed] = values[np.clip(np.searchsorted(actions, grid, side="right") - 1, 0, None)]
    return found


def normalised_aulc(values: np.ndarray, grid: np.ndarray) -> float:
    """Area under the macro-F1 curve from the start set to the budget, divided by that span: a
    mean macro-F1."""
    if len(grid) < 2:
        return float(values[0])
    return float(np.trapezoid(values, grid) / (grid[-1] - grid[0]))


def paired_differences(
    points: list[Point], strategy: str, reference: str, grid: np.ndarray
) -> list[dict[str, Any]]:
    """At each grid point: the mean over seeds of (strategy − reference) macro-F1 and its standard
    error. Seeds are paired: both campaigns share the test split and the start set."""
    mine, theirs = seed_curves(points, strategy, grid), seed_curves(points, reference, grid)
    seeds = sorted(set(mine) & set(theirs))
    differences = (
        np.array([mine[seed] - theirs[seed] for seed in seeds])
        if seeds
        else np.zeros((0, len(grid)))
    )
    error = (
        differences.std(axis=0, ddof=1) / np.sqrt(len(seeds))
        if len(seeds) > 1
        else np.zeros(len(grid))
    )
    mean = differences.mean(axis=0) if len(seeds) else np.zeros(len(grid))
    return [
        {"actions": int(x), "difference": round(float(d), 4), "standard_error": round(float(e), 4)}
        for x, d, e in zip(grid, mean, error, strict=True)
    ]


def actions_to_target(mean_curve: np.ndarray, grid: np.ndarray, target: float) -> int | None:
    reached = grid[mean_curve >= target]
    return int(reached[0]) if len(reached) else None


def report(
    result: Simulation,
    config: SimulationConfig,
    *,
    target_share: float = TARGET_SHARE,
    reference: str = "random",
) -> dict[str, Any]:
    """The command's JSON: the full-pool reference and, per strategy, its mean curve over the budget
    grid, the actions it needed to reach `target_share` of the full-pool macro-F1, its normalised
    area under the curve, and (when the reference strategy ran) its paired difference to it at each
    grid point."""
    accuracy, f1 = (float(np.mean(column)) for column in zip(*result.full_pool, strict=True))
    grid = budget_grid(config)
    strategies: dict[str, dict[str, Any]] = {}
    for strategy in dict.fromkeys(point.strategy for point in result.points):
        per_seed = np.array(list(seed_curves(result.points, strategy, grid).values()))
        mean = per_seed.mean(axis=0)
        entry: dict[str, Any] = {
            "curve": [[int(x), round(float(y), 4)] for x, y in zip(grid, mean, strict=True)],
            "actions_to_target": actions_to_target(mean, grid, target_share * f1),
            "aulc": round(float(np.mean([normalised_aulc(row, grid) for row in per_seed])), 4),
        }
        if reference != strategy and any(point.strategy == reference for point in result.points):
            entry["vs_" + reference] = paired_differences(result.points, strategy, reference, grid)
        strategies[strategy] = entry
    return {
        "unit": config.unit,
        "full_pool": {"accuracy": round(accuracy, 4), "macro_f1": round(f1, 4)},
        "target": round(target_share * f1, 4),
        "strategies": strategies,
    }
