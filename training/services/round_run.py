"""Running a retraining round (worker side: it imports torch).

A round freezes the labelled pool and its split, trains a head on the stored embeddings (or
fine-tunes the backbone), scores it and the production version on the same test images, and
registers the candidate with its lineage. A failure or a cancellation leaves the round failed or
cancelled with its log, and nothing registered: registration is the last, atomic step."""

from typing import Any

from django.conf import settings

from annotation.models import Taxon
from faune_platform.jobs import unexpected
from inference.engine.specs import BackboneSpec
from inference.models import HeadKind, ModelVersion
from inference.selectors import production_version
from inference.services.registry import (
    LostClasses,
    model_version_promote,
    model_version_register,
    models_dir,
)
from training.engine.few_labels import learn_head
from training.engine.heads import HeadConfig, TrainedHead, TrainingCancelled, head_logits
from training.engine.splits import TRAIN, VALIDATION
from training.models import RoundStatus, TrainingRound
from training.services.gate import promotion_gate
from training.services.round_data import (
    RoundData,
    RoundFailed,
    cancel_check,
    candidate_register,
    epoch_logger,
    evaluate_round,
    lineage_of,
    round_prepare,
)
from training.services.rounds import round_finish, round_log


def training_round_run(round_id: int) -> None:
    if not TrainingRound.objects.filter(pk=round_id, status=RoundStatus.QUEUED).update(
        status=RoundStatus.RUNNING
    ):
        return  # claimed by another worker, cancelled, or already done
    try:
        candidate = _run(TrainingRound.objects.get(pk=round_id))
    except TrainingCancelled:
        round_log(round_id, line="cancelled; nothing registered")
        round_finish(round_id, status=RoundStatus.CANCELLED)
    except Exception as error:
        # an unexpected error's text and traceback can hold server paths, and every member reads
        # the round's log: they go to the worker's log (raised again below)
        said = error if isinstance(error, RoundFailed) else unexpected(error)
        round_log(round_id, line=f"failed: {said}")
        round_finish(round_id, status=RoundStatus.FAILED)
        if not isinstance(error, RoundFailed):
            raise
    else:
        _apply_gate(
            round_id, candidate
        )  # the candidate was registered and the round ended in one transaction


def _apply_gate(round_id: int, candidate: ModelVersion) -> None:
    """Promote the candidate when the gate passes (and automatic promotion is on); otherwise it
    waits for a coordinator, with the reasons on the round's page. The gate judged the candidate
    against the version in production when the round started: if another was promoted meanwhile, a
    coordinator decides."""
    training_round = TrainingRound.objects.get(pk=round_id)
    decision = promotion_gate(training_round.metrics)
    training_round.metrics = {**training_round.metrics, "gate": decision.as_dict()}
    training_round.save(update_fields=["metrics"])
    current = production_version()
    if decision.promote and current is not None and current.pk != training_round.parent_id:
        round_log(
            round_id,
            line=f"gate: waiting for a coordinator: production changed to {current} during the "
            "round, and the candidate was compared with the version before it",
        )
    elif decision.promote and settings.FAUNE["AUTO_PROMOTE"]:
        _promote(round_id, candidate)
    else:
        waiting = "; ".join(decision.reasons) if decision.reasons else "automatic promotion is off"
        round_log(round_id, line=f"gate: waiting for a coordinator: {waiting}")


def _promote(round_id: int, candidate: ModelVersion) -> None:
    try:
        model_version_promote(version=candidate, user=None, note=f"gate passed in round {round_id}")
    except LostClasses as error:  # the pool changed since the round's snapshot
        round_log(round_id, line=f"gate: waiting for a coordinator: {error}")
        return
    round_log(round_id, line=f"gate passed: {candidate} promoted to production")


def _run(training_round: TrainingRound) -> ModelVersion:
    parent = production_version()
    if parent is None:
        raise RoundFailed(
            "no production version: its backbone's embeddings are what a round trains on"
        )
    data = round_prepare(training_round, parent=parent)
    if training_round.params.get("mode") == "finetune":
        from training.services.finetune import (
            finetune_candidate,
        )  # torchvision data loading, GPU when present

        return finetune_candidate(training_round, parent=parent, data=data)
    params, round_id, snapshot = training_round.params, training_round.pk, data.snapshot
    config = HeadConfig(
        kind=params["head"],
        epochs=int(params["epochs"]),
        seed=training_round.seed,
        learning_rate=float(params["learning_rate"]),
    )
    train, validation = data.subset[TRAIN], data.subset[VALIDATION]
    head = learn_head(
        (snapshot.features[train], data.y[train]),
        (snapshot.features[validation], data.y[validation]),
        len(data.classes),
        config,
        groups=snapshot.sequence_ids[train],
        on_epoch=epoch_logger(round_id, epochs=config.epochs),
        should_stop=cancel_check(round_id),
    )
    round_log(round_id, line=_learner_line(head))
    metrics = evaluate_round(
        training_round,
        data=data,
        logits_of=lambda mask: head_logits(head, snapshot.features[mask]),
        temperature=head.temperature,
        parent=parent,
    )
    return _register(training_round, parent, head, data, metrics)


def _learner_line(head: TrainedHead) -> str:
    scored = next(
        (row["cross_validated"] for row in head.history if "cross_validated" in row), None
    )
    if scored is None:
        return f"head: {head.learner}"
    figures = ", ".join(f"{name} {value:.3f}" for name, value in scored.items())
    return (
        f"head: {head.learner}, chosen by cross-validation over training sequences (macro-F1 "
        f"{figures})"
    )


def _register(
    training_round: TrainingRound,
    parent: ModelVersion,
    head: TrainedHead,
    data: RoundData,
    metrics: dict[str, Any],
) -> ModelVersion:
    from inference.engine.heads import save_head

    head_path = models_dir() / f"round-{training_round.pk}" / "head.pt"
    head_path.parent.mkdir(parents=True, exist_ok=True)
    save_head(
        str(head_path),
        kind=head.kind,
        input_dim=head.input_dim,
        num_classes=head.num_classes,
        hidden=head.hidden,
        state=head.state,
    )
    taxa = Taxon.objects.in_bulk(data.classes)
    base = {
        role: record
        for role, record in parent.artifacts.items()
        if role in ("backbone", "checkpoint")
    }
    training_round.refresh_from_db(fields=["snapshot"])
    lineage = {
        **lineage_of(
            training_round,
            parent=parent,
            snapshot=data.snapshot,
            metrics=metrics,
            best_epoch=head.best_epoch,
        ),
        "learner": head.learner,
    }
    return candidate_register(
        training_round.pk,
        register=lambda: model_version_register(
            name="faune-head",
            version=f"round-{training_round.pk}",
            spec=BackboneSpec.from_dict(parent.backbone),
            head_kind=HeadKind.TRAINED_HEAD,
            classes=[taxa[t] for t in data.classes],
            files={"head": head_path},
            copy_files=False,
            temperature=head.temperature,
            inherited_artifacts=base,
            lineage=lineage,
            detector=parent.detector,
            created_by=training_round.created_by,
            notes=(
                f"Head trained in round {training_round.pk} on {len(data.snapshot.label_ids)} "
                "labels."
            ),
        ),
    )
