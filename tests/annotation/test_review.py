"""Review queues: claims never overlap, expired claims free the task, a lost claim labels nothing;
verdicts label whole sequences (or split frames), blind double reviews agree or go to a coordinator,
agreement is reported."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation.models import Annotation, Image, LabelSource, ReviewTask
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from tests import factories
from tests.conftest import client_for
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2024, 5, 1, 10, 0, 0)


def _frames(org, tmp_path, name: str, count: int, seed: int = 0) -> list:
    """`count` frames two seconds apart on one camera: one sequence."""
    camera = deployment_get_or_create(organisation=org, name=name)
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    frames = []
    for i in range(count):
        taken = (T0 + dt.timedelta(seconds=2 * i)).strftime("%Y:%m:%d %H:%M:%S")
        path = write_jpeg(tmp_path / f"{name}-{i}.jpg", seed=seed + i, taken=taken)
        frames.append(image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image)
    return frames


@pytest.fixture
def tasks(org, tmp_path):
    images = [_frames(org, tmp_path, f"cam{i}", 1, seed=10 * i)[0] for i in range(4)]
    items = [
        ReviewItem(images[0], taxon("red-deer"), "margin pick", 0.9),
        ReviewItem(images[1], taxon("red-deer"), "margin pick", 0.8),
        ReviewItem(images[2], None, "undefined", 0.7),
        ReviewItem(images[3], taxon("fox"), "margin pick", 0.6),
    ]
    created = review_tasks_create(items=items, origin="test")
    assert review_tasks_create(items=items, origin="again") == []  # one waiting task per sequence
    return created


def claim(user, queue="triage"):
    return client_for(user).post("/api/review/claim/", {"queue": queue}, format="json")


def label(user, task_id, body):
    return client_for(user).post(f"/api/review/tasks/{task_id}/label/", body, format="json")


def test_experts_see_their_queues_and_triage(tasks, expert, coordinator, partner):
    queues = client_for(expert).get("/api/review/queues/").json()
    assert {q["name"]: q["open"] for q in queues} == {"red deer": 2, "triage": 1}
    assert len(client_for(coordinator).get("/api/review/queues/").json()) == 3
    assert client_for(partner).get("/api/review/queues/").status_code == 403
    assert claim(expert, taxon("fox").pk).status_code == 403


def test_two_experts_never_get_the_same_task(tasks, expert, other_org):
    second = factories.member("edgar", other_org, "expert", taxa=[taxon("red-deer")])
    deer = taxon("red-deer").pk
    first, other = claim(expert, deer).json(), claim(second, deer).json()
    assert first["id"] != other["id"] and first["score"] == 0.9
    assert claim(second, deer).json()["id"] == other["id"]


def test_experts_see_the_frames_of_tasks_in_their_queues_only(tasks, expert, client):
    task = claim(expert, taxon("red-deer").pk).json()
    client.force_login(expert)
    assert client.get(task["frames"][0]["thumbnail_url"]).status_code == 200
    fox_task = ReviewTask.objects.get(queue_taxon=taxon("fox"))
    assert client.get(f"/images/{fox_task.image_id}/thumbnail").status_code == 404


def test_labelling_a_claimed_task_labels_the_sequence_as_expert(tasks, expert):
    claimed = claim(expert).json()
    response = label(expert, claimed["id"], {"taxon": "chamois", "expected_current": 0})
    assert response.status_code == 201 and response.json()["state"] == "done"
    annotation = Annotation.objects.get()
    assert (annotation.source, annotation.role, annotation.taxon.slug) == (
        LabelSource.EXPERT,
        "expert",
        "chamois",
    )
    assert annotation.sequence_id == claimed["sequence"]


def test_split_frames_and_a_drawn_box_are_kept(org, tmp_path, expert):
    frames = _frames(org, tmp_path, "burst", 3)
    review_tasks_create(items=[ReviewItem(frames[0], None, "undefined", 0.5)], origin="test")
    task = claim(expert).json()
    assert [f["id"] for f in task["frames"]] == [f.pk for f in frames]
    response = label(
        expert,
        task["id"],
        {
            "taxon": "red-deer",
            "split": {str(frames[2].pk): "fox"},
            "box": {"frame": frames[0].pk, "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        },
    )
    assert response.status_code == 201
    by_image = {}
    for annotation in Annotation.objects.filter(image__isnull=False).order_by("pk"):
        by_image.setdefault(annotation.image_id, []).append(annotation)
    assert [a.taxon.slug for a in by_image[frames[2].pk]] == ["fox"]
    assert [a.taxon.slug for a in by_image[frames[1].pk]] == ["red-deer"]
    boxed, label_ = by_image[
        frames[0].pk
    ]  # the box first, the frame's label last: that one is in force
    assert (
        boxed.has_box
        and (boxed.box_x, boxed.box_w) == (0.1, 0.3)
        and boxed.taxon.slug == "red-deer"
    )
    assert not label_.has_box and Image.objects.get(pk=frames[0].pk).current_label_id == label_.pk


def test_bad_verdicts_are_refused_and_label_nothing(tasks, expert, org, tmp_path):
    task = claim(expert).json()
    unknown = label(expert, task["id"], {"taxon": "unicorn"})
    assert unknown.status_code == 400 and "unicorn" in str(unknown.json())
    stranger = _frames(org, tmp_path, "elsewhere", 1, seed=99)[0]
    foreign = label(expert, task["id"], {"taxon": "fox", "split": {str(stranger.pk): "fox"}})
    assert foreign.status_code == 400 and "not in this task's sequence" in foreign.json()["detail"]
    off_edge = label(
        expert,
        task["id"],
        {"taxon": "fox", "box": {"frame": task["image"], "x": 0.8, "y": 0, "w": 0.5, "h": 0.5}},
    )
    assert off_edge.status_code == 400 and "edge" in str(off_edge.json())
    assert not Annotation.objects.exists() and ReviewTask.objects.get(pk=task["id"]).state == "open"


def test_a_label_made_meanwhile_is_not_overwritten_silently(tasks, expert, coordinator):
    task = claim(expert).json()
    from annotation.services.annotations import annotation_add

    annotation_add(
        image=Image.objects.get(pk=task["image"]), taxon=taxon("wolf"), author=coordinator
    )
    late = label(expert, task["id"], {"taxon": "fox", "expected_current": 0})
    assert late.status_code == 409 and "wolf" in late.json()["detail"]
    assert Annotation.objects.count() == 1 and ReviewTask.objects.get(pk=task["id"]).state == "open"


def test_an_expired_claim_is_free_again_and_labels_nothing(tasks, expert, coordinator):
    claimed = claim(expert).json()
    ReviewTask.objects.filter(pk=claimed["id"]).update(
        claimed_until=timezone.now() - timezone.timedelta(minutes=1)
    )
    assert claim(coordinator).json()["id"] == claimed["id"]
    late = label(expert, claimed["id"], {"taxon": "fox"})
    assert late.status_code == 409 and "no longer yours" in late.json()["detail"]
    assert not Annotation.objects.exists()
    assert (
        client_for(coordinator).post(f"/api/review/tasks/{claimed['id']}/skip/").status_code == 200
    )
    assert claim(coordinator).status_code == 204  # never offered again to who skipped it
    assert claim(expert).json()["id"] == claimed["id"]  # but still there for others


def test_unsure_sends_the_task_to_triage_for_someone_else(tasks, expert, other_org):
    deer = taxon("red-deer").pk
    task = claim(expert, deer).json()
    assert client_for(expert).post(f"/api/review/tasks/{task['id']}/unsure/").status_code == 200
    moved = ReviewTask.objects.get(pk=task["id"])
    assert moved.queue_taxon is None and moved.state == "open" and "unsure" in moved.reason
    other = factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])
    assert claim(other).json()["id"] == task["id"]  # highest score in triage now
    assert claim(expert).json()["id"] != task["id"]


@pytest.fixture
def double(settings, org, tmp_path, other_org):
    settings.FAUNE = {**settings.FAUNE, "DOUBLE_REVIEW_FRACTION": 1.0}
    frames = [_frames(org, tmp_path, f"d{i}", 2, seed=20 * i)[0] for i in range(2)]
    created = review_tasks_create(
        items=[ReviewItem(f, None, "undefined", 0.5 - i / 10) for i, f in enumerate(frames)],
        origin="test",
    )
    assert all(task.reviews_needed == 2 for task in created)
    return created, factories.member("edgar", other_org, "expert", taxa=[taxon("fox")])


def test_double_review_is_blind_and_labels_only_when_experts_agree(double, expert):
    (first, _), edgar = double
    assert claim(expert).json()["id"] == first.pk
    assert label(expert, first.pk, {"taxon": "fox"}).json()["waiting_for_second_review"] is True
    assert not Annotation.objects.exists()  # nothing visible to the second reviewer
    assert claim(expert).json()["id"] != first.pk  # the same expert never reviews it twice
    assert claim(edgar).json()["id"] == first.pk
    assert label(edgar, first.pk, {"taxon": "fox"}).json()["state"] == "done"
    assert sorted(a.author.username for a in Annotation.objects.all()) == ["edgar", "erin"]


def test_disagreement_goes_to_the_coordinator_and_agreement_is_reported(
    double, expert, coordinator
):
    (agreed, disputed), edgar = double
    for user, verdicts in (
        (expert, {agreed.pk: "fox", disputed.pk: "fox"}),
        (edgar, {agreed.pk: "fox", disputed.pk: "wolf"}),
    ):
        for _ in range(2):
            task = claim(user).json()
            assert label(user, task["id"], {"taxon": verdicts[task["id"]]}).status_code == 201
    assert ReviewTask.objects.get(pk=disputed.pk).state == "conflict"
    assert not Annotation.objects.filter(sequence_id=disputed.sequence_id).exists()
    assert claim(expert).status_code == 204 and claim(edgar).status_code == 204
    assert client_for(expert).get("/api/review/conflicts/").status_code == 403
    conflicts = client_for(coordinator).get("/api/review/conflicts/").json()
    assert conflicts["count"] == 1
    assert sorted(
        v["frames"][str(disputed.image_id)] for v in conflicts["results"][0]["verdicts"]
    ) == ["fox", "wolf"]
    report = client_for(coordinator).get("/api/review/agreement/").json()
    assert (
        report["double_reviews"] == 2
        and report["agreement"] == 0.5
        and report["conflicts_open"] == 1
    )
    assert {row["name"]: row["agreement"] for row in report["by_expert"]} == {
        "edgar": 0.5,
        "erin": 0.5,
    }
    resolve = client_for(coordinator).post(
        f"/api/review/tasks/{disputed.pk}/resolve/", {"taxon": "wolf"}, format="json"
    )
    assert resolve.status_code == 201
    winner = Annotation.objects.get(sequence_id=disputed.sequence_id)
    assert (winner.taxon.slug, winner.author, winner.source) == (
        "wolf",
        coordinator,
        LabelSource.EXPERT,
    )
    again = client_for(coordinator).post(
        f"/api/review/tasks/{disputed.pk}/resolve/", {"taxon": "fox"}, format="json"
    )
    assert (
        again.status_code == 409
        and Annotation.objects.filter(sequence_id=disputed.sequence_id).count() == 1
    )
