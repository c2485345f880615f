"""The steps every kind of round shares (worker side): freeze the labels and their split, score a
candidate and production on the same images, describe the lineage. Head rounds (`round_run`) and
fine-tune rounds (`finetune`) both build on these.

Honest evaluation: the split is frozen with the round (image ids and sides), so later merges of
sequences never move a scored frame; labels that a partner took from a model's own prediction never
judge a model (they would favour it); production is scored on exactly the candidate's test
images."""

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import LabelSource, Taxon, TaxonKind
from faune_platform.errors import StateConflict
from faune_platform.failpoints import failpoint
from inference.models import ModelVersion
from inference.selectors import classes_lost
from training.engine.comparison import paired_macro_f1_bootstrap
from training.engine.heads import TrainingCancelled
from training.engine.plots import confusion_png, coverage_png, reliability_png
from training.engine.splits import HOLDOUT, TEST, TRAIN, VALIDATION, split_of
from training.models import RoundStatus, TrainingRound
from training.selectors import frozen_split
from training.services.rounds import round_dir, round_finish, round_log
from training.services.scoring import TestItems, freeze_classes, save_test_logits, test_figures
from training.services.snapshot import Snapshot, class_list, labelled_snapshot

DETECTOR_KINDS = (TaxonKind.HUMAN, TaxonKind.VEHICLE, TaxonKind.EMPTY)


class RoundFailed(StateConflict):
    """A round that cannot run, with the reason a coordinator needs."""


@dataclass
class RoundData:
    """What a round trains and scores on: the frozen labels, their classes and their side of
    the split."""

    snapshot: Snapshot
    y: np.ndarray  # class index of each snapshot row (-1: left out)
    subset: dict[
        str, np.ndarray
    ]  # side -> boolean mask over snapshot rows (test and holdout: independent only)
    classes: list[int]  # taxon ids, in output order
    folder: Path
    accepted_test: (
        np.ndarray
    )  # test-side rows whose label accepted a model's prediction: never judge a model
    split: dict[str, Any] = field(
        default_factory=dict
    )  # counts reported with the metrics and on the model card


def _kinds(parent: ModelVersion) -> tuple[str, ...]:
    """With a detector, people, vehicles and empty frames are its business; without one, the head
    must learn them from labelled frames, or nothing would ever say them."""
    if parent.detector.get("path"):
        return (TaxonKind.ANIMAL,)
    return (TaxonKind.ANIMAL, *DETECTOR_KINDS)


def _freeze(
    folder: Path,
    snapshot: Snapshot,
    sides: np.ndarray,
    accepted: np.ndarray,
    classes: list[int],
    y: np.ndarray,
) -> Path:
    """The round's labels, split and classes as they were: everything that scores this round reads
    this file."""
    path = folder / "labels.json"
    path.write_text(
        json.dumps(
            freeze_classes(
                {
                    "image_ids": snapshot.image_ids.tolist(),
                    "label_ids": snapshot.label_ids.tolist(),
                    "sides": sides.tolist(),
                    "model_accepted": accepted.tolist(),
                    "sequence_ids": snapshot.sequence_ids.tolist(),
                    "deployment_ids": snapshot.deployment_ids.tolist(),
                },
                classes=classes,
                y=y,
            )
        )
    )
    return path


def _previously_tested(
    current: TrainingRound,
) -> tuple[TrainingRound | None, dict[int, tuple[int, int]]]:
    """The last finished round with a frozen split, and {image id: (sequence, deployment)} of its
    test frames."""
    previous = (
        TrainingRound.objects.filter(status=RoundStatus.DONE, pk__lt=current.pk)
        .order_by("-pk")
        .first()
    )
    frozen = frozen_split(previous) if previous else None
    if not frozen or "sides" not in frozen:
        return previous, {}
    rows = zip(
        frozen["image_ids"],
        frozen["sides"],
        frozen["model_accepted"],
        frozen["sequence_ids"],
        frozen["deployment_ids"],
        strict=True,
    )
    return previous, {
        image: (sequence, deployment)
        for image, side, accepted, sequence, deployment in rows
        if side == TEST and not accepted
    }


def _side_changes(
    current: TrainingRound, snapshot: Snapshot, sides: np.ndarray, accepted: np.ndarray
) -> str:
    """Why frames the previous round tested are not in this round's test split (merges,
    cameras, labels)."""
    previous, tested = _previously_tested(current)
    if previous is None or not tested:  # no previous round means nothing tested
        return ""
    now = {
        int(i): (int(s), int(d), str(side), bool(a))
        for i, s, d, side, a in zip(
            snapshot.image_ids,
            snapshot.sequence_ids,
            snapshot.deployment_ids,
            sides,
            accepted,
            strict=True,
        )
    }
    reasons: dict[str, int] = {}
    for image, (sequence, deployment) in tested.items():
        reason = _why_moved(now.get(image), sequence, deployment)
        if reason:
            reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return (
            f"all {len(tested)} frames tested by round {previous.pk} are in this round's test split"
        )
    moved = sum(reasons.values())
    return (
        f"{moved} of the {len(tested)} frames tested by round {previous.pk} left the test split: "
        + "; ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    )


def _why_moved(now: tuple[int, int, str, bool] | None, sequence: int, deployment: int) -> str:
    if now is None:
        return (
            "are no longer in the snapshot (label changed kind, or no embedding of this backbone)"
        )
    new_sequence, new_deployment, side, accepted = now
    if side == TEST and not accepted:
        return ""
    if accepted:
        return "now carry a label accepted from a model's prediction"
    if new_sequence != sequence:
        return "had their sequence merged with another by a late frame"
    if new_deployment != deployment:
        return "moved to another camera"
    return "moved for no recorded reason (split rule changed?)"


def round_prepare(training_round: TrainingRound, *, parent: ModelVersion) -> RoundData:
    params, round_id = training_round.params, training_round.pk
    snapshot = labelled_snapshot(parent.backbone_key, kinds=_kinds(parent))
    folder = round_dir(round_id)
    folder.mkdir(parents=True, exist_ok=True)
    sides = np.array(
        [
            split_of(int(s), int(d))
            for s, d in zip(snapshot.sequence_ids, snapshot.deployment_ids, strict=True)
        ],
        dtype=object,
    )
    accepted = snapshot.sources == LabelSource.MODEL_ACCEPTED
    classes, mapping, report = class_list(
        snapshot.taxon_ids, train_mask=sides == TRAIN, minimum=int(params["min_labels"])
    )
    y = np.array(
        [classes.index(mapping[t]) if t in mapping else -1 for t in snapshot.taxon_ids.tolist()],
        dtype=np.int64,
    )
    path = _freeze(folder, snapshot, sides, accepted, classes, y)
    TrainingRound.objects.filter(pk=round_id).update(
        parent=parent,
        snapshot_at=timezone.now(),
        snapshot={
            "labels": len(snapshot.label_ids),
            "label_hash": snapshot.label_hash,
            "file": str(path),
            "organisations": len(set(snapshot.organisation_ids.tolist())),
        },
    )
    round_log(
        round_id,
        line=f"snapshot: {len(snapshot.label_ids)} labelled images with {parent.backbone_key} "
        "embeddings",
        progress=0.05,
    )
    if changes := _side_changes(training_round, snapshot, sides, accepted):
        round_log(round_id, line=changes)
    for line in report:
        round_log(round_id, line=line)
    if len(classes) < 2:
        raise RoundFailed(
            f"only {len(classes)} taxon has {params['min_labels']} or more training labels; "
            "a classifier needs at least two"
        )
    keep = y >= 0
    subset = {side: keep & (sides == side) & ~accepted for side in (TEST, HOLDOUT)}
    subset |= {side: keep & (sides == side) for side in (TRAIN, VALIDATION)}
    data = RoundData(snapshot, y, subset, classes, folder, keep & (sides == TEST) & accepted)
    data.split = _split_report(data)
    split = ", ".join(f"{side} {count}" for side, count in data.split.items())
    round_log(round_id, line=f"split: {split}", progress=0.1)
    if not subset[TEST].any():  # nothing could judge the candidate against production
        raise RoundFailed(
            "no independent labelled image fell in the test split "
            f"({len(set(snapshot.sequence_ids))} sequences in all; sides are drawn by sequence "
            "and camera): label more sequences before a round can be judged"
        )
    return data


def _split_report(data: RoundData) -> dict[str, Any]:
    holdout = data.subset[HOLDOUT]
    return {
        **{side: int(mask.sum()) for side, mask in data.subset.items()},
        "holdout_cameras": len(set(data.snapshot.deployment_ids[holdout].tolist())),
        "test_model_accepted_left_out": int(data.accepted_test.sum()),
    }


def epoch_logger(round_id: int, *, epochs: int) -> Callable[[dict[str, Any]], None]:
    return lambda row: round_log(
        round_id,
        line=f"epoch {row['epoch']}: loss {row['loss']}, validation macro-F1 {row['val_macro_f1']}",
        progress=0.1 + 0.7 * row["epoch"] / epochs,
    )


HEARTBEAT_S = 30.0


def cancel_check(round_id: int) -> Callable[[], bool]:
    """Asked by the trainers between batches: has a coordinator cancelled the round? It doubles as
    the round's heartbeat (at most every HEARTBEAT_S), so a long epoch never looks like a dead
    worker to the sweep."""
    last_beat = [time.monotonic()]

    def check() -> bool:
        if time.monotonic() - last_beat[0] >= HEARTBEAT_S:
            last_beat[0] = time.monotonic()
            TrainingRound.objects.filter(pk=round_id).update(updated_at=timezone.now())
        return TrainingRound.objects.filter(pk=round_id, cancel_requested=True).exists()

    return check


def candidate_register(round_id: int, *, register: Callable[[], ModelVersion]) -> ModelVersion:
    """Register the candidate and end the round in one transaction, only if the round is still
    running: one the sweep marked failed (no sign of life for a while) registers nothing, even if
    its worker was only slow."""
    with transaction.atomic():
        running = TrainingRound.objects.select_for_update().filter(
            pk=round_id, status=RoundStatus.RUNNING
        )
        if not running.exists():
            raise RoundFailed(
                "the round was ended while it ran (marked failed for lack of a heartbeat, or "
                "cancelled); nothing registered"
            )
        # a cancel asked after the training, while the candidate was evaluated: honoured here
        if running.filter(cancel_requested=True).exists():
            raise TrainingCancelled("the round was cancelled")
        version = register()
        failpoint("round.registered")  # the version written, the transaction not yet committed
        round_finish(round_id, status=RoundStatus.DONE, candidate=version, progress=1.0)
    return version


def _production_logits(parent: ModelVersion, data: RoundData, mask: np.ndarray) -> np.ndarray:
    from inference.services.runtime import (
        version_logits,
    )  # worker side: may run the version's classifier

    snapshot = data.snapshot
    return version_logits(
        parent,
        image_ids=snapshot.image_ids[mask].tolist(),
        features=snapshot.features[mask],
        taxa=data.classes,
    )


def _items(data: RoundData, mask: np.ndarray, names: list[str]) -> TestItems:
    return TestItems(
        data.snapshot.image_ids[mask],
        data.y[mask],
        data.snapshot.sequence_ids[mask],
        data.classes,
        names,
    )


def _score(
    data: RoundData, mask: np.ndarray, logits: np.ndarray, names: list[str], temperature: float
) -> dict[str, Any]:
    return test_figures(_items(data, mask, names), logits=logits, temperature=temperature)


def evaluate_round(
    training_round: TrainingRound,
    *,
    data: RoundData,
    logits_of: Callable[[np.ndarray], np.ndarray],
    temperature: float,
    parent: ModelVersion,
) -> dict[str, Any]:
    """Score the candidate (through `logits_of(mask)`) and the production version on the same test
    images, with the paired bootstrap of their macro-F1 difference; list what the candidate could no
    longer say."""
    taxa = dict(Taxon.objects.filter(pk__in=data.classes).values_list("pk", "name_en"))
    names = [taxa[t] for t in data.classes]
    test = data.subset[TEST]
    candidate_logits, production_logits = logits_of(test), _production_logits(parent, data, test)
    candidate = _score(data, test, candidate_logits, names, temperature)
    production = _score(data, test, production_logits, names, parent.temperature)
    save_test_logits(
        data.folder,
        items_ids=data.snapshot.image_ids[test],
        candidate=candidate_logits,
        production=production_logits,
    )
    comparison = paired_macro_f1_bootstrap(
        data.y[test],
        candidate_logits.argmax(axis=1),
        production_logits.argmax(axis=1),
        data.snapshot.sequence_ids[test],
        num_classes=len(names),
        seed=training_round.seed,
    )
    metrics = {
        "classes": names,
        "split": data.split,
        "candidate": {"test": candidate},
        "production": {"version": str(parent), "test": production},
        "comparison": comparison.as_dict(),
        "missing_in_test": [
            name
            for name, row in zip(names, candidate["per_class"], strict=True)
            if not row["support"]
        ],
        "lost_classes": classes_lost(production=parent, candidate_taxa=_outputs(data, parent)),
    }
    _extra_figures(metrics, data, logits_of, parent, names, temperature)
    _write(data.folder, metrics, candidate, names)
    TrainingRound.objects.filter(pk=training_round.pk).update(metrics=metrics)
    round_log(
        training_round.pk,
        line=f"test macro-F1 {candidate['macro_f1']} (production {production['macro_f1']}, "
        f"difference {comparison.difference:+.4f}, 95% interval "
        f"[{comparison.low:+.4f}, {comparison.high:+.4f}]), accuracy "
        f"{candidate['accuracy']}",
        progress=0.9,
    )
    return metrics


def _outputs(data: RoundData, parent: ModelVersion) -> set[int]:
    """What the candidate can say: its classes, and the detector's categories when it keeps
    the parent's."""
    from inference.selectors import detector_category_taxa

    return set(data.classes) | (detector_category_taxa() if parent.detector.get("path") else set())


def _extra_figures(
    metrics: dict[str, Any],
    data: RoundData,
    logits_of: Callable[[np.ndarray], np.ndarray],
    parent: ModelVersion,
    names: list[str],
    temperature: float,
) -> None:
    """The out-of-sample figure on held-out cameras, and, for information only, the test figures
    with the labels accepted from a model's prediction put back in."""
    holdout = data.subset[HOLDOUT]
    if holdout.any():
        metrics["candidate"]["holdout_deployments"] = _score(
            data, holdout, logits_of(holdout), names, temperature
        )
        metrics["production"]["holdout_deployments"] = _score(
            data, holdout, _production_logits(parent, data, holdout), names, parent.temperature
        )
    with_accepted = data.subset[TEST] | data.accepted_test
    if data.accepted_test.any():
        metrics["candidate"]["test_with_model_accepted"] = _score(
            data, with_accepted, logits_of(with_accepted), names, temperature
        )
        metrics["production"]["test_with_model_accepted"] = _score(
            data,
            with_accepted,
            _production_logits(parent, data, with_accepted),
            names,
            parent.temperature,
        )


def _write(
    folder: Path, metrics: dict[str, Any], candidate: dict[str, Any], names: list[str]
) -> None:
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (folder / "confusion.png").write_bytes(confusion_png(candidate["confusion"], names))
    (folder / "reliability.png").write_bytes(
        reliability_png(candidate["reliability"], candidate["ece"])
    )
    (folder / "coverage.png").write_bytes(coverage_png(candidate["coverage"]))


def code_version() -> str:
    try:
        return subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def lineage_of(
    training_round: TrainingRound,
    *,
    parent: ModelVersion,
    snapshot: Snapshot,
    metrics: dict[str, Any],
    best_epoch: int,
) -> dict[str, Any]:
    return {
        "round": training_round.pk,
        "parent": parent.pk,
        "label_hash": snapshot.label_hash,
        "labels": len(snapshot.label_ids),
        "labels_file": str(Path(training_round.snapshot.get("file", ""))),
        "seed": training_round.seed,
        "params": training_round.params,
        "code_version": code_version(),
        "best_epoch": best_epoch,
        "test_macro_f1": metrics["candidate"]["test"]["macro_f1"],
    }
