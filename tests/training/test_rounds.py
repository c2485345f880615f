"""Retraining rounds on a small labelled pool with stored embeddings (the way rounds see
the pool)."""

import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from annotation.models import Annotation, Image, LabelSource, Sequence
from annotation.services.annotations import current_labels_refresh
from annotation.services.batches import batch_open
from inference.models import Embedding, ModelVersion
from inference.services.registry import default_version_ensure
from tests.factories import taxon
from training.engine.splits import TEST, split_of
from training.models import TrainingRound
from training.services.round_run import training_round_run
from training.services.rounds import RoundBusy, training_round_start

pytestmark = pytest.mark.django_db


def labelled_pool(
    org, parent, counts: dict[str, int], seed: int = 0, by_sequence: bool = False
) -> None:
    """Images in sequences of 3, each with an embedding near its taxon's centre and an expert label
    (one per sequence with `by_sequence`, as the review desk writes them). A taxon none of whose
    sequences landed in the test split gets sequences until one does: the split is drawn from the
    ids, which on PostgreSQL depend on the tests that ran before."""
    rng = np.random.default_rng(seed)
    batch = batch_open(organisation=org, uploader=None)
    # EfficientNet-Lite0's pooled features: production's own classifier runs on them when scored
    dim = 1280
    centres = {slug: rng.normal(size=dim) for slug in counts}

    def add_sequence(slug: str, first: int, frames: int) -> Sequence:
        sequence = Sequence.objects.create(organisation=org, batch=batch)
        if by_sequence:
            Annotation.objects.create(
                sequence=sequence, taxon=taxon(slug), role="expert", source=LabelSource.EXPERT
            )
        for index in range(first, first + frames):
            image = Image.objects.create(
                organisation=org,
                batch=batch,
                sequence=sequence,
                file=f"fake/{slug}-{index}.jpg",
                original_name=f"{slug}-{index}.jpg",
                sha256=f"{slug}-{index}",
                bytes=1,
                width=1,
                height=1,
            )
            vector = centres[slug] + rng.normal(scale=0.5, size=dim)
            Embedding.objects.create(
                image=image,
                backbone_key=parent.backbone_key,
                vector=(vector / np.linalg.norm(vector)).astype(np.float16).tobytes(),
            )
            if not by_sequence:
                Annotation.objects.create(
                    image=image, taxon=taxon(slug), role="expert", source=LabelSource.EXPERT
                )
        return sequence

    for slug, count in counts.items():
        made = [add_sequence(slug, first, min(3, count - first)) for first in range(0, count, 3)]
        # a taxon of a single sequence stays as rare as the test asked
        while len(made) > 1 and all(split_of(s.pk, None) != TEST for s in made):
            made.append(add_sequence(slug, 3 * len(made), 3))
    current_labels_refresh(
        images=Image.objects.filter(batch=batch)
    )  # labels written here, not by the service


@pytest.fixture
def parent(db):
    return default_version_ensure()


def run_round(**params) -> TrainingRound:
    training_round = training_round_start(
        user=None, params={"min_labels": 5, "epochs": 20, **params}, queue=False
    )
    training_round_run(training_round.pk)
    return TrainingRound.objects.get(pk=training_round.pk)


def test_round_registers_a_candidate_with_lineage_metrics_and_plots(org, parent, settings):
    labelled_pool(org, parent, {"fox": 90, "wild-boar": 90, "roe-deer": 60})
    done = run_round()
    assert done.status == "done" and done.active is None and done.progress == 1.0
    candidate = done.candidate
    assert candidate.head_kind == "trained_head"
    assert (
        candidate.status == "production"
    )  # far better than the zero-shot default on the same test images
    change = candidate.status_changes.get(to_status="production")
    assert change.changed_by is None and change.note == f"gate passed in round {done.pk}"
    assert list(candidate.classes.values_list("taxon__slug", flat=True)) == [
        "roe-deer",
        "fox",
        "wild-boar",
    ]
    assert candidate.lineage["parent"] == parent.pk and candidate.lineage["labels"] == 240
    assert (
        candidate.lineage["label_hash"] == done.snapshot["label_hash"]
        and "code_version" in candidate.lineage
    )
    assert set(candidate.artifacts) == {"backbone", "head"}
    test = done.metrics["candidate"]["test"]
    assert test["macro_f1"] > 0.8 and test["sequence_accuracy"] is not None and test["coverage"]
    folder = settings.DATA_DIR / "rounds" / str(done.pk)
    assert {p.name for p in folder.iterdir()} >= {
        "labels.json",
        "metrics.json",
        "confusion.png",
        "reliability.png",
    }


def test_same_snapshot_and_seed_give_the_same_metrics(org, parent):
    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    first, second = run_round(), run_round()
    assert first.snapshot["label_hash"] == second.snapshot["label_hash"]
    assert first.metrics["candidate"] == second.metrics["candidate"]


def test_two_rounds_never_run_at_once(parent):
    training_round_start(user=None, queue=False)
    with pytest.raises(RoundBusy, match="already queued"):
        training_round_start(user=None, queue=False)


def test_rare_taxa_are_merged_into_their_parent_or_reported(org, parent):
    labelled_pool(org, parent, {"fox": 60, "mustelid": 60, "badger": 3, "lynx": 3})
    done = run_round()
    assert "badger: " in done.log and "merged into mustelid" in done.log
    assert "lynx: " in done.log and "left out" in done.log
    assert "badger" not in done.candidate.classes.values_list("taxon__slug", flat=True)


def test_too_few_labels_fail_with_a_reason_and_register_nothing(org, parent):
    labelled_pool(org, parent, {"fox": 30})
    done = run_round()
    assert done.status == "failed" and "a classifier needs at least two" in done.log
    assert ModelVersion.objects.count() == 1 and done.active is None


def test_a_round_whose_test_split_is_empty_fails_with_the_reason(org, parent):
    from training.engine.splits import TEST, split_of

    labelled_pool(org, parent, {"fox": 30, "wild-boar": 30})
    tested = [
        image.pk
        for image in Image.objects.all()
        if split_of(image.sequence_id, image.deployment_id) == TEST
    ]
    Annotation.objects.filter(image_id__in=tested).delete()
    Image.objects.filter(pk__in=tested).delete()
    done = run_round()
    assert (
        done.status == "failed"
        and "no independent labelled image fell in the test split" in done.log
    )
    assert ModelVersion.objects.count() == 1


def test_cancel_during_training_registers_nothing(org, parent):
    labelled_pool(org, parent, {"fox": 30, "wild-boar": 30})
    training_round = training_round_start(user=None, params={"min_labels": 5}, queue=False)
    TrainingRound.objects.filter(pk=training_round.pk).update(cancel_requested=True)
    training_round_run(training_round.pk)
    training_round.refresh_from_db()
    assert training_round.status == "cancelled" and ModelVersion.objects.count() == 1


def test_command_waits_and_prints_json(org, parent):
    labelled_pool(org, parent, {"fox": 45, "wild-boar": 45})
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "training_round", "--wait", "--min-labels", "5", "--epochs", "10", stdout=out, stderr=err
    )
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["status"] == "done" and result["candidate"] and "snapshot:" in err.getvalue()


def _figures(macro_f1: float, recalls: dict[str, tuple[float, int]]) -> dict:
    return {
        "macro_f1": macro_f1,
        "per_class": [
            {"class": name, "recall": recall, "support": support}
            for name, (recall, support) in recalls.items()
        ],
    }


def _metrics(
    candidate: dict, production: dict, low: float = 0.01, lost: list | None = None
) -> dict:
    comparison = {
        "difference": 0.05,
        "low": low,
        "high": 0.09,
        "level": 0.95,
        "resamples": 1000,
        "sequences": 40,
    }
    return {
        "candidate": {"test": candidate},
        "production": {"test": production},
        "comparison": comparison,
        "lost_classes": lost or [],
    }


def test_gate_passes_only_without_regressions():
    from training.services.gate import promotion_gate

    production = _figures(0.80, {"fox": (0.90, 50), "lynx": (0.70, 5)})
    better = _metrics(_figures(0.85, {"fox": (0.88, 50), "lynx": (0.20, 5)}), production)
    decision = promotion_gate(better)
    assert decision.promote and decision.not_judged == [
        "lynx (5 test images)"
    ]  # too little support to block
    worse_class = _metrics(_figures(0.85, {"fox": (0.80, 50), "lynx": (0.7, 5)}), production)
    decision = promotion_gate(worse_class)
    assert not decision.promote and "fox: recall drops" in decision.reasons[0]
    maybe_worse = _metrics(_figures(0.81, {"fox": (0.9, 50)}), production, low=-0.04)
    assert "may be a drop larger than 0.01" in promotion_gate(maybe_worse).reasons[0]
    noisy_but_fine = _metrics(_figures(0.79, {"fox": (0.9, 50)}), production, low=-0.005)
    assert promotion_gate(noisy_but_fine).promote  # a lower macro-F1 within the noise is not a drop
    lost = _metrics(
        _figures(0.9, {"fox": (0.9, 50)}), production, lost=[{"name": "empty", "labels": 12}]
    )
    assert "cannot say empty" in promotion_gate(lost).reasons[0]
    assert not promotion_gate({"candidate": {"test": production}}).promote


def test_a_candidate_that_cannot_say_a_class_production_says_waits(org, parent):
    """The zero-shot default says "vehicle"; the pool holds three vehicle frames, too few to become
    a class of the head: promoting the head would call every vehicle something else."""
    labelled_pool(org, parent, {"fox": 45, "wild-boar": 45, "vehicle": 3})
    done = run_round()
    gate = done.metrics["gate"]
    assert gate["promote"] is False and "cannot say vehicle" in gate["reasons"][0]
    assert done.metrics["lost_classes"] == [
        {"taxon": taxon("vehicle").pk, "name": "vehicle", "labels": 3}
    ]
    assert ModelVersion.objects.get(status="production") == parent
    assert "waiting for a coordinator: cannot say vehicle" in done.log


def test_better_candidate_is_promoted_by_the_gate(org, parent, django_capture_on_commit_callbacks):
    from inference.models import Prediction

    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    uniform = np.zeros(parent.classes.count(), dtype=np.float16).tobytes()
    Prediction.objects.bulk_create(
        Prediction(image=image, version=parent, category="animal", score=0.1, logits=uniform)
        for image in Image.objects.all()
    )
    done = run_round()
    assert (
        done.metrics["production"]["test"]["macro_f1"]
        < done.metrics["candidate"]["test"]["macro_f1"]
    )
    assert done.metrics["gate"]["promote"] is True
    assert ModelVersion.objects.get(status="production") == done.candidate


def test_periodic_round_starts_only_after_enough_new_expert_labels(org, parent, settings):
    from django_q.models import Schedule

    from training.services.schedule import training_round_if_due, training_schedule_ensure

    training_schedule_ensure()
    training_schedule_ensure()
    assert Schedule.objects.filter(func="training.tasks.training_round_if_due").count() == 1
    settings.FAUNE = {**settings.FAUNE, "ROUND_MIN_NEW_EXPERT_LABELS": 50}
    labelled_pool(org, parent, {"fox": 30})
    assert training_round_if_due() is None
    labelled_pool(org, parent, {"wild-boar": 30}, seed=1)
    started = training_round_if_due()
    assert started is not None and started.params["trigger"] == "schedule"
    assert training_round_if_due() is None  # one is already queued


def test_a_killed_round_is_marked_failed_and_unblocks_the_next(parent):
    from django.utils import timezone

    killed = training_round_start(user=None, queue=False)
    TrainingRound.objects.filter(pk=killed.pk).update(status="running")
    with pytest.raises(RoundBusy):
        training_round_start(user=None, queue=False)
    TrainingRound.objects.filter(pk=killed.pk).update(
        updated_at=timezone.now() - timezone.timedelta(hours=2)
    )
    training_round_start(user=None, queue=False)
    killed.refresh_from_db()
    assert (
        killed.status == "failed" and "the worker stopped" in killed.log and killed.active is None
    )
    assert ModelVersion.objects.count() == 1
