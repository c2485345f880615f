"""Active learning replayed on a labelled dataset: how many labels each selection strategy needs to approach what
the whole pool would teach. Everything real is reused (the platform's embedding and crops, sequence grouping,
the selection code, the rounds' head trainer); only the expert is simulated, by an oracle that reveals the label
of an image when, and only when, a strategy picks it.

For one seed every strategy shares the test split (a quarter of the sequences, never single frames) and the
random seed set, so curves are paired and differences between strategies are not split or start-set luck.
"""
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from annotation.ingest.exif import read_exif
from annotation.ingest.layouts import ImportPlan, PlannedFile, PlannedLabel
from annotation.ingest.media import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS
from annotation.ingest.sequences import Frame, group_sequences
from inference.engine.aggregate import class_probabilities
from inference.engine.backbones import load_efficientnet_lite0
from inference.engine.preprocess import Box, CropRequest, load_crop
from inference.engine.selection import Pool, select
from inference.engine.specs import EFFICIENTNET_LITE0
from training.engine.heads import HeadConfig, TrainedHead, head_logits, train_head
from training.engine.metrics import macro_f1
from training.engine.splits import stable_fraction

SPLIT_SALT = "faune-simulation-v1"
TARGET_SHARE = 0.9  # a strategy's target: this share of the full-pool macro-F1


class SimulationError(Exception):
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


@dataclass(frozen=True)
class SimulationConfig:
    seed_size: int = 8
    batch_size: int = 8
    budget: int = 120
    test_fraction: float = 0.25
    head: HeadConfig = field(default_factory=HeadConfig)


@dataclass(frozen=True)
class Point:
    strategy: str
    seed: int
    labels: int  # labelled images when the head was trained
    accuracy: float
    macro_f1: float


@dataclass
class Simulation:
    points: list[Point]
    full_pool: list[tuple[float, float]]  # (accuracy, macro-F1) of a head trained on the whole pool, per seed


# --- dataset ---------------------------------------------------------------------------------------------------

def _skip_reason(planned: PlannedFile) -> str:
    if Path(planned.name).suffix.lower() not in MEDIA_EXTENSIONS:
        return "not an image or video"
    if planned.rejection or planned.path is None:
        return "refused by the layout reader"
    if planned.path.suffix.lower() in VIDEO_EXTENSIONS:
        return "video (not simulated)"
    return "" if planned.labels else "unlabelled"


def _main_label(labels: list[PlannedLabel]) -> PlannedLabel:
    """The label of the largest box: the animal the pipeline would crop. Without boxes, the first label."""
    return max(labels, key=lambda label: label.box[2] * label.box[3] if label.box else -1.0)


def _exif_time(planned: PlannedFile, earliest_year: int) -> dt.datetime | None:
    """The camera's date, read as an import reads it: only a `classes` folder needs it (an index gives its own)."""
    try:
        with Image.open(planned.path) as image:
            return read_exif(image, earliest_year=earliest_year, now=dt.datetime.now()).taken_at  # noqa: DTZ005
    except OSError:
        return None


def plan_items(plan: ImportPlan, *, maxlag_s: float, earliest_year: int) -> tuple[list[Item], Counter[str]]:
    """The plan's labelled images, grouped into sequences as the platform groups them; and what was skipped, why."""
    kept, skipped = [], Counter()
    for planned in plan.files:
        reason = _skip_reason(planned)
        if reason:
            skipped[reason] += 1
        else:
            kept.append(planned)
    frames = [Frame(p.deployment, p.taken_at or (None if p.sequence_id else _exif_time(p, earliest_year)),
                    p.sequence_id) for p in kept]
    keys = group_sequences(frames, maxlag_s=maxlag_s)
    items = []
    for planned, key in zip(kept, keys, strict=True):
        label = _main_label(planned.labels)
        items.append(Item(str(planned.path), label.box, label.class_name, key))
    return items, skipped


def labelled_set(items: list[Item], embeddings: np.ndarray) -> LabelledSet:
    names = sorted({item.class_name for item in items})
    return LabelledSet(embeddings.astype(np.float32), np.array([names.index(i.class_name) for i in items]),
                       np.array([i.sequence for i in items]), names)


# --- embedding, cached -----------------------------------------------------------------------------------------

def _cache_key(request: CropRequest, backbone_key: str) -> str:
    stat = Path(request.path).stat()
    return f"{backbone_key}|{request.path}|{stat.st_size}|{stat.st_mtime_ns}|{request.box}"


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
    with partial.open("wb") as handle:  # written aside then moved, so an interrupted run leaves the old cache
        np.savez(handle, keys=np.array(list(vectors)), vectors=np.stack(list(vectors.values())))
    partial.replace(path)


def embed(requests: list[CropRequest], *, cache: Path | None = None, batch_size: int = 32,
          on_progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The platform's default embedding of each crop, and which files could be read. Only files missing from the
    cache (keyed by path, size, modification time, box and backbone) are run through the model."""
    keys = [_cache_key(request, EFFICIENTNET_LITE0.key) for request in requests]
    known = _read_cache(cache)
    missing = [row for row, key in enumerate(keys) if key not in known]
    if missing:
        for rows, vectors in _run_backbone([requests[row] for row in missing], batch_size, on_progress):
            known.update({keys[missing[row]]: vector for row, vector in zip(rows, vectors, strict=True)})
        _write_cache(cache, known)
    readable = np.array([key in known for key in keys])
    dim = len(next(iter(known.values()))) if known else 0
    return np.stack([known.get(key, np.zeros(dim, np.float32)) for key in keys]), readable


def _run_backbone(requests: list[CropRequest], batch_size: int,
                  on_progress: Callable[[int, int], None] | None) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield (positions, embeddings) per batch; the next batch is decoded in threads while this one runs."""

    def decode(request: CropRequest) -> torch.Tensor | None:
        try:
            return load_crop(request, EFFICIENTNET_LITE0)
        except (OSError, ValueError):  # a damaged file is skipped, not fatal: it is counted as unreadable
            return None

    model = load_efficientnet_lite0()
    starts = list(range(0, len(requests), batch_size))
    with ThreadPoolExecutor(max_workers=2) as pool, torch.inference_mode():
        upcoming = pool.map(decode, requests[:batch_size])  # map submits at once: decoding starts here
        for number, start in enumerate(starts):
            tensors = list(upcoming)
            if number + 1 < len(starts):
                upcoming = pool.map(decode, requests[starts[number + 1]:starts[number + 1] + batch_size])
            rows = [start + i for i, tensor in enumerate(tensors) if tensor is not None]
            if rows:
                _, vectors = model(torch.stack([tensor for tensor in tensors if tensor is not None]))
                yield rows, vectors.float().numpy()
            if on_progress:
                on_progress(start + len(tensors), len(requests))

# --- one simulated campaign ------------------------------------------------------------------------------------

class Oracle:
    """The simulated expert: the label of an image is known only once a strategy asked for it."""

    def __init__(self, labels: np.ndarray) -> None:
        self._labels = labels
        self.revealed: list[int] = []

    def reveal(self, rows: np.ndarray) -> np.ndarray:
        self.revealed.extend(int(row) for row in rows)
        return self._labels[rows]


def held_out(sequences: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """Whole sequences to the test side: the `fraction` of them with the smallest hash of (seed, sequence), at
    least one and never all, so a tiny dataset still has both sides."""
    unique = np.unique(sequences)
    if len(unique) < 2:
        raise SimulationError("the dataset has a single sequence; test and pool need one each")
    ranked = sorted(unique.tolist(), key=lambda key: stable_fraction(f"{seed}:{key}", SPLIT_SALT))
    count = min(max(1, round(fraction * len(unique))), len(unique) - 1)
    return np.isin(sequences, ranked[:count])


def seed_rows(pool: np.ndarray, sequences: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A random start set: one image per sequence while sequences last, then further frames."""
    order = np.random.default_rng(seed).permutation(pool)
    _, first = np.unique(sequences[order], return_index=True)
    firsts = order[np.sort(first)]
    return np.concatenate([firsts, order[~np.isin(order, firsts)]])[:size]


def fit_head(features: np.ndarray, labels: np.ndarray, num_classes: int, config: HeadConfig) -> TrainedHead:
    # Platform rounds stop training and fit the temperature on a validation split of sequences; a campaign of a
    # few dozen labels has none to spare, so the labelled images serve as validation too: training stops soon
    # after it fits them. A temperature fitted on images the head was trained on only says how well it memorised
    # them (it sinks to its floor), so the campaign keeps the uncalibrated probabilities (temperature 1).
    head = train_head((features, labels), (features, labels), num_classes, config)
    return replace(head, temperature=1.0)


def score(head: TrainedHead, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    predicted = head_logits(head, features).argmax(axis=1)
    return float((predicted == labels).mean()), macro_f1(labels, predicted)


def _pick_from(data: LabelledSet, unlabelled: np.ndarray, head: TrainedHead, labelled: np.ndarray,
               known: np.ndarray, strategy: str, size: int, seed: int) -> np.ndarray:
    """The strategy's picks among the unlabelled pool, fed as the platform feeds it: the head's probabilities,
    sequences, the labelled embeddings (k-center, near-copies) and the labelled count per class (rare-taxa
    boost)."""
    features = data.embeddings[unlabelled]
    pool = Pool(ids=unlabelled, embeddings=features,
                probabilities=class_probabilities(head_logits(head, features), temperature=head.temperature),
                sequences=data.sequences[unlabelled], labelled=data.embeddings[labelled],
                rarity=np.bincount(known, minlength=len(data.class_names)))
    return select(pool, strategy, size, seed=seed).ids


def run_strategy(data: LabelledSet, test: np.ndarray, strategy: str, seed: int, config: SimulationConfig,
                 oracle: Oracle | None = None) -> list[Point]:
    """Train, score on the test split, pick a batch, reveal its labels; until the budget or the pool runs out.
    Test labels are used for scoring only; selection sees labels through the oracle alone."""
    oracle = oracle or Oracle(data.labels)
    pool = np.flatnonzero(~test)
    labelled = seed_rows(pool, data.sequences, min(config.seed_size, config.budget), seed)
    known, points = oracle.reveal(labelled), []
    head_config = replace(config.head, seed=seed)
    for round_number in itertools.count():
        head = fit_head(data.embeddings[labelled], known, len(data.class_names), head_config)
        accuracy, f1 = score(head, data.embeddings[test], data.labels[test])
        points.append(Point(strategy, seed, len(labelled), accuracy, f1))
        unlabelled = np.setdiff1d(pool, labelled)
        room = min(config.batch_size, config.budget - len(labelled))
        if room <= 0 or not len(unlabelled):
            return points
        round_seed = seed * 1009 + round_number  # random picks and k-means differ per round and per seed
        picks = _pick_from(data, unlabelled, head, labelled, known, strategy, room, round_seed)
        if not len(picks):
            return points
        labelled, known = np.concatenate([labelled, picks]), np.concatenate([known, oracle.reveal(picks)])


def full_pool_score(data: LabelledSet, test: np.ndarray, config: HeadConfig) -> tuple[float, float]:
    """The reference a campaign works toward: every pool image labelled, the same head, the same test split."""
    pool = ~test
    head = fit_head(data.embeddings[pool], data.labels[pool], len(data.class_names), config)
    return score(head, data.embeddings[test], data.labels[test])


def simulate(data: LabelledSet, strategies: list[str], seeds: int, config: SimulationConfig,
             on_progress: Callable[[str], None] | None = None) -> Simulation:
    result = Simulation([], [])
    for seed in range(seeds):
        test = held_out(data.sequences, seed, config.test_fraction)
        result.full_pool.append(full_pool_score(data, test, replace(config.head, seed=seed)))
        for strategy in strategies:
            points = run_strategy(data, test, strategy, seed, config)
            result.points += points
            if on_progress:
                last = points[-1]
                on_progress(f"seed {seed} {strategy}: {last.labels} labels, accuracy {last.accuracy:.3f}, "
                            f"macro-F1 {last.macro_f1:.3f} (full pool {result.full_pool[-1][1]:.3f})")
    return result


# --- curves ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CurveRow:
    strategy: str
    labels: int
    seeds: int  # how many seeds reached this label count
    accuracy_mean: float
    accuracy_std: float
    macro_f1_mean: float
    macro_f1_std: float


def _spread(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def curves(points: list[Point]) -> list[CurveRow]:
    """Mean and spread over seeds of each (strategy, label count), in the order strategies first appear."""
    groups: dict[tuple[str, int], list[Point]] = {}
    for point in points:
        groups.setdefault((point.strategy, point.labels), []).append(point)
    order = list(dict.fromkeys(point.strategy for point in points))
    rows = []
    for (strategy, labels), group in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        accuracy, f1 = [p.accuracy for p in group], [p.macro_f1 for p in group]
        rows.append(CurveRow(strategy, labels, len(group), float(np.mean(accuracy)), _spread(accuracy),
                             float(np.mean(f1)), _spread(f1)))
    return rows


def labels_to_target(rows: list[CurveRow], strategy: str, target: float) -> int | None:
    reached = [row.labels for row in rows if row.strategy == strategy and row.macro_f1_mean >= target]
    return min(reached) if reached else None


def report(result: Simulation, target_share: float = TARGET_SHARE) -> dict:
    """The command's JSON: the full-pool reference and, per strategy, its mean curve and the labels it needed to
    reach `target_share` of the full-pool macro-F1."""
    accuracy, f1 = (float(np.mean(column)) for column in zip(*result.full_pool, strict=True))
    rows = curves(result.points)
    strategies = {}
    for strategy in dict.fromkeys(row.strategy for row in rows):
        curve = [[row.labels, round(row.accuracy_mean, 4), round(row.macro_f1_mean, 4)]
                 for row in rows if row.strategy == strategy]
        strategies[strategy] = {"curve": curve, "labels_to_target": labels_to_target(rows, strategy, target_share * f1)}
    return {"full_pool": {"accuracy": round(accuracy, 4), "macro_f1": round(f1, 4)}, "strategies": strategies}
