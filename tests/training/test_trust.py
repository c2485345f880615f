"""Promotion a scientist would sign: a round's split is frozen with it and read by whatever scores
it later; production is scored on exactly the candidate's test images; labels accepted from a model
never judge a model; the model card says only what happened."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from django.db import connection

from annotation.models import Image, LabelSource, Sequence
from inference.models import Prediction
from inference.services.registry import default_version_ensure
from tests.training.test_rounds import labelled_pool, run_round
from training.engine.splits import TEST, split_of
from training.models import TrainingRound
from training.services.compare import round_items
from training.services.rounds import round_log, training_round_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(db):
    return default_version_ensure()


def _move_to_another_side(image: Image, away_from: str) -> Sequence:
    """What a merge does to a frame: a new sequence id, here one whose side under the split
    rule differs."""
    while True:
        sequence = Sequence.objects.create(
            organisation_id=image.organisation_id, batch_id=image.batch_id
        )
        if split_of(sequence.pk, image.deployment_id) != away_from:
            Image.objects.filter(pk=image.pk).update(sequence=sequence)
            return sequence


def _tested(training_round: TrainingRound) -> list[int]:
    frozen = json.loads(Path(training_round.snapshot["file"]).read_text())
    return [
        i
        for i, side, accepted in zip(
            frozen["image_ids"], frozen["sides"], frozen["model_accepted"], strict=True
        )
        if side == TEST and not accepted
    ]


def _scored_items(training_round: TrainingRound) -> dict[int, int]:
    """image id -> class index, of the items a comparison scores on this round."""
    items = round_items(training_round)
    return dict(zip(items.image_ids.tolist(), items.y.tolist(), strict=True))


def test_the_split_is_frozen_with_the_round_and_comparisons_read_it(org, parent):
    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    done = run_round()
    tested = _tested(done)
    assert tested and len(tested) == done.metrics["candidate"]["test"]["count"]
    before = _scored_items(done)
    assert sorted(before) == sorted(tested)
    moved = Image.objects.get(pk=tested[0])
    _move_to_another_side(moved, away_from=TEST)
    assert (
        _scored_items(done) == before
    )  # the round's test split did not move with today's sequences


def test_a_later_round_says_why_previously_tested_frames_left_the_test_split(org, parent):
    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    first = run_round()
    tested = _tested(first)
    _move_to_another_side(Image.objects.get(pk=tested[0]), away_from=TEST)
    second = run_round()
    assert (
        f"1 of the {len(tested)} frames tested by round {first.pk} left the test split: 1 had "
        "their sequence merged with another by a late frame"
    ) in second.log


def test_production_is_scored_on_exactly_the_candidates_test_images(org, parent):
    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    half = Image.objects.order_by("pk")[::2]
    uniform = np.zeros(parent.classes.count(), dtype=np.float16).tobytes()
    Prediction.objects.bulk_create(
        Prediction(image=image, version=parent, category="animal", score=0.1, logits=uniform)
        for image in half
    )
    done = run_round()
    candidate, production = done.metrics["candidate"]["test"], done.metrics["production"]["test"]
    assert production["count"] == candidate["count"] > 0
    assert done.metrics["comparison"]["sequences"] > 0


def test_labels_accepted_from_a_model_never_judge_a_model(org, parent):
    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    reference = run_round()
    tested = _tested(reference)
    accepted = tested[: len(tested) // 2]
    Image.objects.filter(pk__in=accepted).update(current_source=LabelSource.MODEL_ACCEPTED)
    done = run_round()
    split = done.metrics["split"]
    assert split["test_model_accepted_left_out"] == len(accepted)
    assert done.metrics["candidate"]["test"]["count"] == len(tested) - len(accepted)
    assert done.metrics["candidate"]["test_with_model_accepted"]["count"] == len(tested)
    assert done.metrics["production"]["test"]["count"] == len(tested) - len(accepted)
    assert set(_tested(done)) == set(tested) - set(accepted)


def test_the_round_page_says_what_the_test_split_lacks_and_what_was_not_judged(
    client, partner, org, parent
):
    labelled_pool(org, parent, {"fox": 90, "wild-boar": 90, "badger": 15})
    done = run_round()
    client.force_login(partner)
    page = client.get(f"/rounds/{done.pk}/").content.decode()
    assert "Macro-F1 difference (candidate − production)" in page and "paired resamples" in page
    assert "Frozen with the round" in page
    assert ("The test split holds no image of" in page) == bool(done.metrics["missing_in_test"])
    assert "Not judged (too few test images)" in page  # default minimum support is 20 test images


def test_the_model_card_states_only_what_happened(
    client, coordinator, org, parent, settings, django_capture_on_commit_callbacks
):
    from inference.services.registry import model_version_promote
    from training.models import Release

    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    done = run_round()
    model_version_promote(version=done.candidate, confirm_lost_classes=True)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/releases/", {"semver": "1.0.0"})
    card = Release.objects.get().model_card
    assert (
        "Whole cameras held out: 0. There is no out-of-sample figure" in card
    )  # this pool knows no camera
    assert "Detector: none" in card and "cannot say empty, human or vehicle" in card
    assert "from 1 organisation(s)" in card
    assert f"On {done.metrics['candidate']['test']['count']} test images (" in card


@pytest.mark.django_db(transaction=True)
def test_log_lines_written_at_the_same_moment_are_all_kept(parent):
    training_round = training_round_start(user=None, queue=False)
    barrier = threading.Barrier(6)

    def write(index: int) -> None:
        barrier.wait()
        for line in range(10):
            round_log(training_round.pk, line=f"writer {index} line {line}")
        connection.close()

    threads = [threading.Thread(target=write, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = TrainingRound.objects.get(pk=training_round.pk).log
    assert all(f"writer {i} line {n}\n" in log for i in range(6) for n in range(10))


def test_publishing_writes_nothing_inside_the_request(
    client, coordinator, org, parent, settings, django_capture_on_commit_callbacks
):
    """The bundle (a checkpoint may weigh gigabytes, and folding a DeepFaune head loads torch) is
    the job's."""
    from training.models import Release, ReleaseRequest

    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert client.post("/releases/", {"semver": "1.0.0"}).status_code == 302
    assert ReleaseRequest.objects.get().status == "queued" and len(queued) == 1
    assert not Release.objects.exists() and not (settings.DATA_DIR / "releases").exists()
    page = client.get("/releases/").content.decode()
    assert "publishing" in page and "<progress" in page
    without = client.post(
        "/releases/", {"semver": "1.0.1"}, follow=True
    )  # one publication at a time
    assert "is being published" in without.content.decode()


def test_two_requests_to_publish_sent_together_leave_one_queued(
    coordinator, parent, monkeypatch, django_capture_on_commit_callbacks
):
    """Both pass the check for a request in progress before either is written (a double click):
    the database keeps the second out, with the same message."""
    from django.core.exceptions import ValidationError

    from training.models import ReleaseRequest
    from training.services import releases

    with django_capture_on_commit_callbacks(execute=False):
        releases.release_request(version=parent, semver="1.0.0", user=coordinator)
    monkeypatch.setattr(releases, "_check_semver", lambda semver: None)  # as the second saw it
    with pytest.raises(ValidationError, match="Another release is being published"):
        releases.release_request(version=parent, semver="1.0.0", user=coordinator)
    assert ReleaseRequest.objects.count() == 1


def test_a_new_release_must_be_above_the_highest_not_the_latest(parent):
    from django.core.exceptions import ValidationError

    from training.models import Release
    from training.services.releases import _check_semver

    # two publishes at once may end in either order
    Release.objects.create(version=parent, semver="2.0.0", files={}, model_card="")
    Release.objects.create(version=parent, semver="1.5.0", files={}, model_card="")
    with pytest.raises(ValidationError, match="greater than the last release, 2.0.0"):
        _check_semver("1.9.0")


def test_a_round_the_sweep_marked_failed_registers_nothing_even_if_its_worker_was_alive(parent):
    from django.utils import timezone

    from inference.models import ModelVersion
    from training.services.round_data import RoundFailed, candidate_register
    from training.services.rounds import rounds_fail_stale

    slow = training_round_start(user=None, queue=False)
    TrainingRound.objects.filter(pk=slow.pk).update(
        status="running", updated_at=timezone.now() - timezone.timedelta(hours=2)
    )
    assert rounds_fail_stale() == 1
    registered = []
    with pytest.raises(RoundFailed, match="nothing registered"):
        candidate_register(slow.pk, register=lambda: registered.append(1) or parent)
    slow.refresh_from_db()
    assert slow.status == "failed" and not registered and ModelVersion.objects.count() == 1


def test_the_gate_does_not_promote_over_a_version_it_was_not_compared_with(org, parent, settings):
    from inference.models import ModelVersion
    from inference.services.registry import model_version_promote
    from training.services.round_run import _apply_gate

    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    settings.FAUNE = {**settings.FAUNE, "AUTO_PROMOTE": False}
    done = run_round()
    other = ModelVersion.objects.create(
        name="other",
        version="1",
        backbone=parent.backbone,
        head_kind="zero_shot",
        artifacts=parent.artifacts,
    )
    for row in parent.classes.all():
        other.classes.create(index=row.index, taxon=row.taxon)
    model_version_promote(version=other)  # promoted by hand while the round ran
    settings.FAUNE = {**settings.FAUNE, "AUTO_PROMOTE": True}
    _apply_gate(done.pk, done.candidate)
    assert ModelVersion.objects.get(status="production") == other
    assert (
        "production changed to other 1 during the round"
        in TrainingRound.objects.get(pk=done.pk).log
    )


def test_the_model_card_says_where_imported_detections_answer(
    client, coordinator, org, parent, django_capture_on_commit_callbacks
):
    from inference.models import BoxSource, Detection
    from inference.services.registry import model_version_promote
    from training.models import Release

    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    done = run_round()
    Detection.objects.create(
        image=Image.objects.first(),
        source=BoxSource.MEGADETECTOR_JSON,
        category="empty",
        confidence=1.0,
        box_x=0,
        box_y=0,
        box_w=1,
        box_h=1,
    )
    model_version_promote(version=done.candidate, confirm_lost_classes=True)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/releases/", {"semver": "1.0.0"})
    card = Release.objects.get().model_card
    assert (
        "On the 1 images of the pool with imported MegaDetector detections, empty, human and "
        "vehicle come from those detections; elsewhere this version cannot say them"
    ) in card


def test_a_release_folder_left_by_a_killed_attempt_does_not_block_the_version(
    org, parent, settings, coordinator
):
    from inference.services.registry import model_version_promote
    from training.services.releases import release_publish, releases_dir

    labelled_pool(org, parent, {"fox": 60, "wild-boar": 60})
    done = run_round()
    model_version_promote(version=done.candidate, confirm_lost_classes=True)
    orphan = releases_dir() / "1.0.0"
    orphan.mkdir(parents=True)
    (orphan / "MODEL_CARD.md").write_text(
        "moved in place, then the worker was killed before the row committed"
    )
    release = release_publish(version=done.candidate, semver="1.0.0", user=coordinator)
    assert "killed" not in (orphan / "MODEL_CARD.md").read_text() and release.semver == "1.0.0"


def test_a_round_cancelled_while_it_evaluates_registers_nothing(org, monkeypatch):
    """A cancel asked after the trainer's last look at it, while the candidate is evaluated:
    nothing is registered (or promoted), the round ends cancelled."""
    from inference.models import ModelVersion
    from inference.services.registry import default_version_ensure
    from tests.training.test_rounds import labelled_pool
    from training.models import TrainingRound
    from training.services import round_run
    from training.services.rounds import training_round_cancel, training_round_start

    parent = default_version_ensure()
    labelled_pool(org, parent, {"fox": 30, "wild-boar": 30})
    training_round = training_round_start(
        user=None, params={"min_labels": 5, "epochs": 5}, queue=False
    )
    real = round_run.evaluate_round

    def evaluate(*args, **kwargs):
        training_round_cancel(training_round=TrainingRound.objects.get(pk=training_round.pk))
        return real(*args, **kwargs)

    monkeypatch.setattr(round_run, "evaluate_round", evaluate)
    round_run.training_round_run(training_round.pk)
    training_round.refresh_from_db()
    assert training_round.cancel_requested
    assert training_round.status == "cancelled"
    assert ModelVersion.objects.count() == 1
