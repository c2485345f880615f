"""A late frame that bridges sequences merges them, and every piece of review work on them survives:
waiting tasks, a claimed task with a verdict (still with its expert), a conflict, sequence
labels."""

import datetime as dt

import pytest
from django.db.models import ProtectedError

from annotation.models import (
    Annotation,
    Image,
    LabelSource,
    ReviewState,
    ReviewTask,
    ReviewVerdict,
    Sequence,
)
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from annotation.services.verdicts import Verdict, review_conflict_resolve, review_verdict_submit
from tests import factories
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2024, 5, 1, 10, 0, 0)
MAXLAG = 35.0


@pytest.fixture
def camera(org):
    org.sequence_maxlag_s = MAXLAG
    org.save()
    return deployment_get_or_create(organisation=org, name="Col")


def frame(org, camera, tmp_path, seconds: int):
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    taken = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")
    path = write_jpeg(tmp_path / f"f{seconds}.jpg", seed=seconds, taken=taken)
    return image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image


@pytest.fixture
def experts(other_org):
    return [
        factories.member(name, other_org, "expert", taxa=[taxon("red-deer")])
        for name in ("erin", "eric")
    ]


@pytest.fixture
def three_sequences(org, camera, tmp_path, experts, coordinator, settings):
    """A (0 s, 10 s): an untouched waiting task. B (70 s, 80 s): a double review whose first
    verdict is in and whose second expert holds the claim. C (140 s, 150 s): two experts disagreed,
    a conflict."""
    settings.FAUNE = {**settings.FAUNE, "DOUBLE_REVIEW_FRACTION": 1.0}
    frames = {t: frame(org, camera, tmp_path, t) for t in (0, 10, 70, 80, 140, 150)}
    assert len({image.sequence_id for image in frames.values()}) == 3
    tasks = {
        name: review_tasks_create(
            items=[ReviewItem(frames[t], taxon("red-deer"), "pick", 0.9)], origin=f"test-{name}"
        )[0]
        for name, t in (("a", 0), ("b", 70), ("c", 140))
    }
    erin, eric = experts
    deer, roe = taxon("red-deer"), taxon("roe-deer")
    Annotation.objects.create(
        sequence_id=frames[140].sequence_id, taxon=roe, role="partner", source=LabelSource.PARTNER
    )
    _verdict(tasks["c"], erin, deer)  # C: both answer, differently
    _verdict(tasks["c"], eric, roe)
    _verdict(tasks["b"], erin, deer)  # first of two; then eric claims it and is looking at it
    ReviewTask.objects.filter(pk=tasks["b"].pk).update(
        claimed_by=eric, claimed_until=T0.replace(year=2100, tzinfo=dt.UTC)
    )
    return frames, {name: ReviewTask.objects.get(pk=task.pk) for name, task in tasks.items()}


def _verdict(task: ReviewTask, expert, taxon_):
    ReviewTask.objects.filter(pk=task.pk).update(
        claimed_by=expert, claimed_until=T0.replace(year=2100, tzinfo=dt.UTC)
    )
    review_verdict_submit(task_id=task.pk, user=expert, verdict=Verdict(taxon=taxon_))


def test_bridging_frames_merge_sequences_and_keep_every_piece_of_review_work(
    org, camera, tmp_path, three_sequences, experts, coordinator
):
    frames, tasks = three_sequences
    assert tasks["b"].state == ReviewState.OPEN and tasks["c"].state == ReviewState.CONFLICT
    verdicts_before = set(ReviewVerdict.objects.values_list("pk", flat=True))
    frame(org, camera, tmp_path, 40)  # 30 s after A's end and before B's start: one sequence
    frame(org, camera, tmp_path, 110)  # and the same between B and C
    assert Sequence.objects.count() == 1
    survivor = Sequence.objects.get()
    assert set(Image.objects.values_list("sequence_id", flat=True)) == {survivor.pk}
    assert ReviewTask.objects.count() == 3 and set(
        ReviewTask.objects.values_list("sequence_id", flat=True)
    ) == {survivor.pk}
    assert set(ReviewVerdict.objects.values_list("pk", flat=True)) == verdicts_before
    b, c, a = (ReviewTask.objects.get(pk=tasks[name].pk) for name in "bca")
    assert (
        b.state == ReviewState.OPEN and b.claimed_by == experts[1]
    )  # still with the expert working it
    assert c.state == ReviewState.CONFLICT and c.verdicts.count() == 2
    assert (
        a.state == ReviewState.MERGED and f"covered by task #{b.pk}" in a.reason
    )  # nobody had touched it
    assert {a.opened_for, b.opened_for, c.opened_for} == {
        frames[t].sequence_id for t in (0, 70, 140)
    }
    assert Annotation.objects.filter(sequence=survivor, taxon=taxon("roe-deer")).exists()
    # the sequence label of C now covers every frame, and the frames' current labels say so
    assert set(Image.objects.values_list("current_taxon_id", flat=True)) == {taxon("roe-deer").pk}


def test_work_on_a_merged_sequence_can_be_finished(
    org, camera, tmp_path, three_sequences, experts, coordinator
):
    frames, tasks = three_sequences
    frame(org, camera, tmp_path, 40)
    frame(org, camera, tmp_path, 110)
    erin, eric = experts
    # eric sees every frame now and agrees with what erin said about the frames she saw: the labels
    # are written
    done = review_verdict_submit(
        task_id=tasks["b"].pk, user=eric, verdict=Verdict(taxon=taxon("red-deer"))
    )
    assert done.state == ReviewState.DONE
    resolved = review_conflict_resolve(
        task_id=tasks["c"].pk, user=coordinator, verdict=Verdict(taxon=taxon("red-deer"))
    )
    assert resolved.state == ReviewState.DONE
    assert set(Image.objects.values_list("current_taxon_id", flat=True)) == {taxon("red-deer").pk}


def test_a_sequence_with_review_work_cannot_be_deleted_by_accident(
    org, camera, tmp_path, three_sequences
):
    frames, _ = three_sequences
    with pytest.raises(ProtectedError):
        Sequence.objects.filter(pk=frames[140].sequence_id).delete()


def test_a_label_on_a_frame_whose_sequence_merged_since_it_was_loaded_is_refused(
    org, camera, tmp_path, partner
):
    from annotation.services.annotations import LabelConflict, annotation_add

    early, late = frame(org, camera, tmp_path, 0), frame(org, camera, tmp_path, 70)
    loaded = Image.objects.get(pk=late.pk)  # the page shows it in its own sequence
    frame(org, camera, tmp_path, 35)  # bridges the two: one sequence now
    assert Image.objects.get(pk=late.pk).sequence_id != loaded.sequence_id
    with pytest.raises(LabelConflict, match="joined this image's sequence"):
        annotation_add(image=loaded, taxon=taxon("fox"), author=partner, whole_sequence=True)
    assert not Annotation.objects.exists()
    assert Image.objects.get(pk=early.pk).sequence_id == Image.objects.get(pk=late.pk).sequence_id


def test_a_verdict_on_frames_a_merge_changed_since_the_claim_is_refused(
    org, camera, tmp_path, experts
):
    from tests.annotation.test_review import claim, label

    first = frame(org, camera, tmp_path, 0)
    review_tasks_create(items=[ReviewItem(first, None, "pick", 0.5)], origin="test")
    task = claim(experts[0]).json()
    later = frame(org, camera, tmp_path, 70)  # another sequence, with a label of its own
    Annotation.objects.create(
        sequence_id=later.sequence_id, taxon=taxon("roe-deer"), role="expert", source="expert"
    )
    frame(org, camera, tmp_path, 35)  # bridges the two: the task's sequence has three frames now
    seen = [f["id"] for f in task["frames"]]
    body = {"taxon": "fox", "expected_current": task["labels_stamp"], "frames": seen}
    refused = label(experts[0], task["id"], body)
    assert refused.status_code == 409, refused.json()
    assert "frames changed since you loaded it" in refused.json()["detail"]
    assert not Annotation.objects.filter(taxon=taxon("fox")).exists()
    again = claim(experts[0]).json()  # "next" on the desk: the task they hold comes back
    assert again["id"] == task["id"] and len(again["frames"]) == 3
    body = {**body, "frames": [f["id"] for f in again["frames"]]}
    assert (
        label(
            experts[0], task["id"], {**body, "expected_current": again["labels_stamp"]}
        ).status_code
        == 201
    )
