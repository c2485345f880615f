"""Opening selection batches on a pre-labelled pool: picks recorded, review tasks in the
right queues."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.models import Image, ReviewTask, Role, Taxon
from annotation.services.annotations import annotation_add
from inference.models import SelectionBatch
from inference.services.selection import (
    SelectionError,
    selection_batch_open,
    selection_batch_request,
)
from tests.factories import jpeg_bytes, member, organisation, taxon, upload
from tests.inference.test_prelabel import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(api, zero_shot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            *[
                upload(
                    f"{i}.jpg",
                    jpeg_bytes(size=(96, 72), seed=i, taken=f"2024:05:0{1 + i % 9} 10:00:00"),
                )
                for i in range(30)
            ],
            deployment_name="Cam",
        )
    return zero_shot


@pytest.mark.parametrize("strategy", ["hybrid", "margin", "kcenter", "typical", "random"])
def test_batch_records_picks_and_queues_one_task_per_sequence(pool, strategy):
    batch = selection_batch_open(user=None, strategy=strategy, size=5)
    assert len(batch.picked) == ReviewTask.objects.count() == 5 and batch.version == pool
    tasks = list(ReviewTask.objects.all())
    assert len({t.sequence_id for t in tasks}) == len(tasks)
    assert all(t.origin == f"selection:{batch.pk}" for t in tasks)
    # no expert reviews any taxon yet, so everything goes to the triage queue any expert can take
    assert all(t.queue_taxon is None for t in tasks)


def test_selection_skips_labelled_and_already_queued_images(pool, coordinator):
    first = selection_batch_open(user=None, size=5)
    for image in Image.objects.all()[:10]:
        annotation_add(image=image, taxon=taxon("fox"), author=coordinator)
    second = selection_batch_open(user=None, size=50)
    picked_first = {row[0] for row in first.picked}
    labelled = set(Image.objects.all()[:10].values_list("pk", flat=True))
    queued_sequences = set(
        Image.objects.filter(pk__in=picked_first).values_list("sequence_id", flat=True)
    )
    for image_id, _ in second.picked:
        image = Image.objects.get(pk=image_id)
        assert image_id not in labelled and image.sequence_id not in queued_sequences


def test_errors_say_why(db):
    with pytest.raises(SelectionError, match="No production model"):
        selection_batch_open(user=None)
    with pytest.raises(SelectionError, match="Unknown strategy"):
        selection_batch_open(user=None, strategy="oracle")


def test_command_prints_json(pool):
    out = io.StringIO()
    call_command("select_batch", "--size", "3", "--strategy", "entropy", stdout=out)
    result = json.loads(out.getvalue())
    assert result["picked"] == 3 and SelectionBatch.objects.get().strategy == "entropy"
    with pytest.raises(CommandError, match="Unknown taxon"):
        call_command("select_batch", "--taxon", "unicorn", stdout=io.StringIO())


def test_coordinators_open_batches_from_the_api_as_a_job(
    pool, coordinator, partner, django_capture_on_commit_callbacks
):
    from tests.conftest import client_for

    assert (
        client_for(partner).post("/api/selection/batches/", {"size": 3}, format="json").status_code
        == 403
    )
    bad = client_for(coordinator).post(
        "/api/selection/batches/", {"strategy": "oracle"}, format="json"
    )
    assert bad.status_code == 400 and "strategy" in bad.json()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(coordinator).post(
            "/api/selection/batches/", {"size": 4, "strategy": "margin"}, format="json"
        )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    batch = SelectionBatch.objects.get()
    assert (batch.status, len(batch.picked), batch.created_by) == ("done", 4, coordinator)
    listed = client_for(coordinator).get("/api/selection/batches/").json()["results"][0]
    assert (listed["tasks"], listed["waiting"], listed["reviewed"]) == (4, 4, 0)


def test_a_failed_pick_is_recorded_on_the_batch(
    pool, coordinator, django_capture_on_commit_callbacks
):
    from tests.conftest import client_for

    with django_capture_on_commit_callbacks(execute=True):
        client_for(coordinator).post(
            "/api/selection/batches/", {"size": 4, "taxon": "ibex"}, format="json"
        )
    batch = SelectionBatch.objects.get()
    assert batch.status == "failed" and "nothing to select" in batch.error


def test_a_batch_whose_version_was_deleted_while_queued_fails_with_a_message(
    pool, coordinator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        batch = selection_batch_request(user=coordinator, size=4)
    # what deleting the version does to the waiting batch (its foreign key is SET_NULL)
    SelectionBatch.objects.filter(pk=batch.pk).update(version=None)
    for callback in queued:
        callback()
    batch.refresh_from_db()
    assert batch.status == "failed" and "model version" in batch.error
    assert not ReviewTask.objects.exists()


def test_the_page_opens_a_batch_and_reports_how_picks_were_labelled(
    pool, coordinator, client, django_capture_on_commit_callbacks
):
    from tests.conftest import client_for

    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post("/selection/", {"strategy": "hybrid", "size": "2", "seed": "0"}).status_code
            == 302
        )
    task = (
        client_for(coordinator)
        .post("/api/review/claim/", {"queue": "triage"}, format="json")
        .json()
    )
    predicted = Image.objects.get(pk=task["image"]).predictions.get().taxon.slug
    other = "wolf" if predicted != "wolf" else "fox"
    client_for(coordinator).post(
        f"/api/review/tasks/{task['id']}/label/", {"taxon": other}, format="json"
    )
    row = client_for(coordinator).get("/api/selection/batches/").json()["results"][0]
    assert (row["reviewed"], row["model_wrong"], row["waiting"]) == (1, 1, 1)
    assert "hybrid" in client.get("/selection/").content.decode()


def test_a_pool_too_large_to_scan_is_narrowed_to_neighbours_of_labelled_images(
    pool, coordinator, settings
):
    from inference.selectors import stored_embeddings
    from inference.services.index import load_index

    settings.FAUNE = {**settings.FAUNE, "SELECTION_SCAN_LIMIT": 6, "SELECTION_NEIGHBOURS": 4}
    labelled = list(Image.objects.order_by("pk")[:2])
    for image in labelled:
        annotation_add(image=image, taxon=taxon("fox"), author=coordinator)
    batch = selection_batch_open(user=None, strategy="margin", size=3)
    _, vectors = stored_embeddings(pool.backbone_key, [image.pk for image in labelled])
    found = load_index(pool.backbone_key).search(vectors, 4)  # 6 // 4: one anchor's 4
    near = set(found.ids.ravel().tolist())
    assert batch.restricted and 0 < batch.candidates <= 6
    assert {image_id for image_id, _ in batch.picked} <= near - {image.pk for image in labelled}


def test_promotion_moves_waiting_tasks_to_the_new_prediction_queue(pool, coordinator):
    from inference.tasks import prelabel_all

    selection_batch_open(user=None, size=4)
    claimed = ReviewTask.objects.first()
    ReviewTask.objects.filter(pk=claimed.pk).update(
        claimed_by=coordinator, claimed_until=timezone.now() + timezone.timedelta(minutes=5)
    )
    member(
        "ida", organisation("Muséum"), Role.EXPERT, taxa=list(Taxon.objects.filter(kind="animal"))
    )
    prelabel_all(
        pool.pk
    )  # what promotion queues: re-predict what is missing, then refresh the queues
    for task in ReviewTask.objects.select_related("image"):
        predicted = task.image.predictions.get(version=pool).taxon_id
        assert task.queue_taxon_id == (None if task.pk == claimed.pk else predicted)
