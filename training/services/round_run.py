"""Running a retraining round (worker side: it imports torch).

A round freezes the labelled pool, splits it by sequence and camera with the stable rule, trains a head on the
stored embeddings (or fine-tunes the backbone), scores it and the production version on the same test split, and
registers the candidate with its lineage. A failure or a cancellation leaves the round failed or cancelled with
its log, and nothing registered: registration is the last, atomic step."""
import json
import subprocess
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from annotation.models import Taxon
from inference.engine.specs import BackboneSpec
from inference.models import HeadKind, ModelVersion
from inference.selectors import production_version, stored_logits
from inference.services.registry import model_version_promote, model_version_register, models_dir
from training.engine.heads import HeadConfig, TrainingCancelled, head_logits, train_head
from training.engine.metrics import evaluate
from training.engine.plots import confusion_png, coverage_png, reliability_png
from training.engine.splits import HOLDOUT, TEST, TRAIN, VALIDATION, split_of
from training.models import RoundStatus, TrainingRound
from training.services.gate import promotion_gate
from training.services.rounds import round_dir, round_finish, round_log
from training.services.snapshot import Snapshot, class_list, labelled_snapshot


class RoundFailed(Exception):
    """A round that cannot run, with the reason a coordinator needs."""


def training_round_run(round_id: int) -> None:
    if not TrainingRound.objects.filter(pk=round_id, status=RoundStatus.QUEUED).update(status=RoundStatus.RUNNING):
        return  # claimed by another worker, cancelled, or already done
    try:
        candidate = _run(TrainingRound.objects.get(pk=round_id))
    except TrainingCancelled:
        round_log(round_id, "cancelled; nothing registered")
        round_finish(round_id, RoundStatus.CANCELLED)
    except Exception as error:
        round_log(round_id, f"failed: {error}\n{traceback.format_exc() if not isinstance(error, RoundFailed) else ''}")
        round_finish(round_id, RoundStatus.FAILED)
        if not isinstance(error, RoundFailed):
            raise
    else:
        round_finish(round_id, RoundStatus.DONE, candidate=candidate, progress=1.0)
        _apply_gate(round_id, candidate)


def _apply_gate(round_id: int, candidate: ModelVersion) -> None:
    """Promote the candidate when the gate passes (and automatic promotion is on); otherwise it waits for a
    coordinator, with the reasons on the round's page."""
    training_round = TrainingRound.objects.get(pk=round_id)
    decision = promotion_gate(training_round.metrics)
    training_round.metrics = {**training_round.metrics, "gate": decision.as_dict()}
    training_round.save(update_fields=["metrics"])
    if decision.promote and settings.FAUNE["AUTO_PROMOTE"]:
        model_version_promote(version=candidate)
        round_log(round_id, f"gate passed: {candidate} promoted to production")
    else:
        round_log(round_id, "gate: waiting for a coordinator" + (": " + "; ".join(decision.reasons)
                                                             if decision.reasons else " (automatic promotion off)"))


def _code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=settings.BASE_DIR,  # noqa: S603 S607
                              capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class RoundData:
    """What a round trains and scores on: the frozen labels, their classes and their side of the split."""

    snapshot: Snapshot
    y: np.ndarray  # class index of each snapshot row (-1: left out)
    subset: dict[str, np.ndarray]  # side -> boolean mask over snapshot rows
    classes: list[int]  # taxon ids, in output order
    folder: Path


def _prepare(training_round: TrainingRound, parent: ModelVersion) -> RoundData:
    params, round_id = training_round.params, training_round.pk
    snapshot = labelled_snapshot(parent.backbone_key)
    folder = round_dir(round_id)
    folder.mkdir(parents=True, exist_ok=True)
    # Image ids beside label ids: a sequence label stands for every frame, so the label alone does not say which.
    (folder / "labels.json").write_text(json.dumps({"image_ids": snapshot.image_ids.tolist(),
                                                    "label_ids": snapshot.label_ids.tolist()}))
    TrainingRound.objects.filter(pk=round_id).update(parent=parent, snapshot_at=timezone.now(), snapshot={
        "labels": len(snapshot.label_ids), "label_hash": snapshot.label_hash, "file": str(folder / "labels.json")})
    round_log(round_id, f"snapshot: {len(snapshot.label_ids)} labelled images with {parent.backbone_key} "
                        "embeddings", 0.05)
    sides = np.array([split_of(int(s), int(d)) for s, d in zip(snapshot.sequence_ids, snapshot.deployment_ids,
                                                               strict=True)])
    classes, mapping, report = class_list(snapshot.taxon_ids, sides == TRAIN, int(params["min_labels"]))
    for line in report:
        round_log(round_id, line)
    if len(classes) < 2:
        raise RoundFailed(f"only {len(classes)} taxon has {params['min_labels']} or more training labels; "
                          "a classifier needs at least two")
    keep = np.array([t in mapping for t in snapshot.taxon_ids.tolist()])
    y = np.array([classes.index(mapping[t]) if t in mapping else -1 for t in snapshot.taxon_ids.tolist()])
    subset = {side: keep & (sides == side) for side in (TRAIN, VALIDATION, TEST, HOLDOUT)}
    round_log(round_id, "split: " + ", ".join(f"{side} {int(mask.sum())}" for side, mask in subset.items()), 0.1)
    return RoundData(snapshot, y, subset, classes, folder)


def epoch_logger(round_id: int, epochs: int) -> Callable[[dict], None]:
    return lambda row: round_log(round_id, f"epoch {row['epoch']}: loss {row['loss']}, validation macro-F1 "
                                      f"{row['val_macro_f1']}", 0.1 + 0.7 * row["epoch"] / epochs)


def cancel_check(round_id: int) -> Callable[[], bool]:
    return lambda: TrainingRound.objects.filter(pk=round_id, cancel_requested=True).exists()


def _run(training_round: TrainingRound) -> ModelVersion:
    parent = production_version()
    if parent is None:
        raise RoundFailed("no production version: its backbone's embeddings are what a round trains on")
    data = _prepare(training_round, parent)
    if training_round.params.get("mode") == "finetune":
        from training.services.finetune import finetune_candidate  # torchvision data loading, GPU when present

        return finetune_candidate(training_round, parent, data)
    params, round_id, snapshot = training_round.params, training_round.pk, data.snapshot
    config = HeadConfig(kind=params["head"], epochs=int(params["epochs"]), seed=training_round.seed,
                        learning_rate=float(params["learning_rate"]))
    head = train_head((snapshot.features[data.subset[TRAIN]], data.y[data.subset[TRAIN]]),
                      (snapshot.features[data.subset[VALIDATION]], data.y[data.subset[VALIDATION]]),
                      len(data.classes), config, on_epoch=epoch_logger(round_id, config.epochs),
                      should_stop=cancel_check(round_id))
    metrics = evaluate_round(training_round, data, lambda mask: head_logits(head, snapshot.features[mask]),
                             head.temperature, parent)
    return _register(training_round, parent, head, data.classes, snapshot, metrics, data.folder)


def evaluate_round(training_round: TrainingRound, data: RoundData, logits_of: Callable[[np.ndarray], np.ndarray],
                   temperature: float, parent: ModelVersion) -> dict:
    """Score the candidate (through `logits_of(mask)`) and the production version on the same test split."""
    snapshot, y, subset, classes = data.snapshot, data.y, data.subset, data.classes
    names = dict(Taxon.objects.filter(pk__in=classes).values_list("pk", "name_en"))
    names = [names[t] for t in classes]
    test = subset[TEST]
    candidate = evaluate(y[test], logits_of(test), names, temperature=temperature,
                         sequence_ids=snapshot.sequence_ids[test])
    metrics = {"classes": names, "candidate": {"test": candidate}}
    if subset[HOLDOUT].any():
        metrics["candidate"]["holdout_deployments"] = evaluate(y[subset[HOLDOUT]], logits_of(subset[HOLDOUT]), names,
                                                               temperature=temperature)
    stored = stored_logits(parent, snapshot.image_ids[test].tolist(), classes)
    if stored:
        rows = np.array([i in stored for i in snapshot.image_ids[test].tolist()])
        logits = np.stack([stored[i] for i in snapshot.image_ids[test][rows].tolist()])
        scored = evaluate(y[test][rows], logits, names, temperature=parent.temperature,
                          sequence_ids=snapshot.sequence_ids[test][rows])
        metrics["production"] = {"version": str(parent), "test": scored}
    folder = data.folder
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (folder / "confusion.png").write_bytes(confusion_png(candidate["confusion"], names))
    (folder / "reliability.png").write_bytes(reliability_png(candidate["reliability"], candidate["ece"]))
    (folder / "coverage.png").write_bytes(coverage_png(candidate["coverage"]))
    TrainingRound.objects.filter(pk=training_round.pk).update(metrics=metrics)
    round_log(training_round.pk, f"test macro-F1 {candidate['macro_f1']}, accuracy {candidate['accuracy']}", 0.9)
    return metrics


def lineage_of(training_round: TrainingRound, parent: ModelVersion, snapshot: Snapshot, metrics: dict,
               best_epoch: int) -> dict:
    return {"round": training_round.pk, "parent": parent.pk, "label_hash": snapshot.label_hash,
            "labels": len(snapshot.label_ids), "labels_file": str(Path(training_round.snapshot.get("file", ""))),
            "seed": training_round.seed, "params": training_round.params, "code_version": _code_version(),
            "best_epoch": best_epoch, "test_macro_f1": metrics["candidate"]["test"]["macro_f1"]}


def _register(training_round, parent, head, classes, snapshot, metrics, folder: Path) -> ModelVersion:
    from inference.engine.heads import save_head

    head_path = models_dir() / f"round-{training_round.pk}" / "head.pt"
    head_path.parent.mkdir(parents=True, exist_ok=True)
    save_head(str(head_path), kind=head.kind, input_dim=head.input_dim, num_classes=head.num_classes,
              hidden=head.hidden, state=head.state)
    taxa = Taxon.objects.in_bulk(classes)
    base = {role: record for role, record in parent.artifacts.items() if role in ("backbone", "checkpoint")}
    training_round.refresh_from_db(fields=["snapshot"])
    lineage = lineage_of(training_round, parent, snapshot, metrics, head.best_epoch)
    return model_version_register(
        name="faune-head", version=f"round-{training_round.pk}", spec=BackboneSpec.from_dict(parent.backbone),
        head_kind=HeadKind.TRAINED_HEAD, classes=[taxa[t] for t in classes], files={"head": head_path},
        copy_files=False,
        temperature=head.temperature, inherited_artifacts=base, lineage=lineage, detector=parent.detector,
        notes=f"Head trained in round {training_round.pk} on {len(snapshot.label_ids)} labels.")
