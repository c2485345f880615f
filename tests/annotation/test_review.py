"""Review queues: claims never overlap, expired claims free the task, a lost claim labels nothing."""
import pytest
from django.utils import timezone

from annotation.models import Annotation, LabelSource, ReviewTask
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.review import ReviewItem, review_tasks_create
from tests.conftest import client_for
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(org, partner, tmp_path):
    batch = batch_open(organisation=org, uploader=partner)
    images = [image_ingest(path=write_jpeg(tmp_path / f"{i}.jpg", seed=i), name=f"{i}.jpg", batch=batch,
                           deployment=None).image for i in range(4)]
    items = [ReviewItem(images[0], taxon("red-deer"), "margin pick", 0.9),
             ReviewItem(images[1], taxon("red-deer"), "margin pick", 0.8),
             ReviewItem(images[2], None, "undefined", 0.7),
             ReviewItem(images[3], taxon("fox"), "margin pick", 0.6)]
    created = review_tasks_create(items=items, origin="test")
    assert review_tasks_create(items=items, origin="again") == []  # one open task per sequence
    return created


def test_experts_see_their_queues_and_triage(tasks, expert, coordinator, partner):
    queues = client_for(expert).get("/api/review/queues/").json()
    assert {q["name"]: q["open"] for q in queues} == {"red deer": 2, "triage": 1}
    assert len(client_for(coordinator).get("/api/review/queues/").json()) == 3
    assert client_for(partner).get("/api/review/queues/").status_code == 403
    fox = taxon("fox").pk
    assert client_for(expert).post("/api/review/claim/", {"queue": fox}, format="json").status_code == 403


def test_two_experts_never_get_the_same_task(tasks, expert, other_org):
    from tests import factories

    second = factories.member("edgar", other_org, "expert", taxa=[taxon("red-deer")])
    deer = taxon("red-deer").pk
    first = client_for(expert).post("/api/review/claim/", {"queue": deer}, format="json").json()
    other = client_for(second).post("/api/review/claim/", {"queue": deer}, format="json").json()
    assert first["id"] != other["id"] and first["score"] == 0.9
    assert client_for(second).post("/api/review/claim/", {"queue": deer}, format="json").json()["id"] == other["id"]


def test_labelling_a_claimed_task_labels_the_sequence_as_expert(tasks, expert):
    claimed = client_for(expert).post("/api/review/claim/", {"queue": "triage"}, format="json").json()
    response = client_for(expert).post(f"/api/review/tasks/{claimed['id']}/label/", {"taxon": "chamois"},
                                       format="json")
    assert response.status_code == 201 and response.json()["applies_to"] == "sequence"
    label = Annotation.objects.get()
    assert (label.source, label.role, label.taxon.slug) == (LabelSource.EXPERT, "expert", "chamois")
    assert ReviewTask.objects.get(pk=claimed["id"]).state == "done"


def test_an_expired_claim_is_free_again_and_labels_nothing(tasks, expert, coordinator):
    claimed = client_for(expert).post("/api/review/claim/", {"queue": "triage"}, format="json").json()
    ReviewTask.objects.filter(pk=claimed["id"]).update(claimed_until=timezone.now() - timezone.timedelta(minutes=1))
    again = client_for(coordinator).post("/api/review/claim/", {"queue": "triage"}, format="json").json()
    assert again["id"] == claimed["id"]
    late = client_for(expert).post(f"/api/review/tasks/{claimed['id']}/label/", {"taxon": "fox"}, format="json")
    assert late.status_code == 409 and "no longer yours" in late.json()["detail"]
    assert not Annotation.objects.exists()
    assert client_for(coordinator).post(f"/api/review/tasks/{claimed['id']}/skip/").status_code == 200
    assert client_for(coordinator).post("/api/review/claim/", {"queue": "triage"}, format="json").status_code == 204
