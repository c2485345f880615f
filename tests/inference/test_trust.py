"""What a partner, an expert or a coordinator relies on at the inference side: a bulk accept never
overrides a newer label, "undefined" follows today's threshold, selection reads a bounded number of
rows, hand promotions warn before silencing a class, and every status change is on record."""

import pytest

from annotation.models import Annotation, Image, LabelSource
from annotation.services.annotations import annotation_add
from inference.models import ModelStatusChange, ModelVersion, SequencePrediction
from inference.services.registry import LostClasses, model_version_promote
from inference.services.selection import selection_batch_open
from tests.conftest import client_for
from tests.factories import jpeg_bytes, taxon, upload
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
                for i in range(12)
            ],
            deployment_name="Cam",
        )
    return zero_shot


def test_bulk_accept_leaves_alone_an_image_labelled_since_the_page_loaded(
    api, pool, other_partner, partner, coordinator
):
    first, second = Image.objects.order_by("pk")[:2]
    seen = {str(first.pk): 0, str(second.pk): 0}  # both unlabelled when the page was loaded
    annotation_add(
        image=second, taxon=taxon("badger"), author=coordinator
    )  # meanwhile, an expert's label
    response = api.post(
        "/api/prelabels/accept/",
        {"images": [first.pk, second.pk], "expected_current": seen},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["labelled"] == [first.pk] and list(body["conflicts"]) == [str(second.pk)]
    assert "by cora since you loaded it" in body["conflicts"][str(second.pk)]
    assert not Annotation.objects.filter(image=second, source=LabelSource.MODEL_ACCEPTED).exists()
    only_conflicts = api.post(
        "/api/prelabels/accept/", {"images": [second.pk], "expected_current": seen}, format="json"
    )
    assert only_conflicts.status_code == 409


def test_the_prelabels_page_sends_what_it_showed(client, pool, partner, coordinator):
    client.force_login(partner)
    image = Image.objects.order_by("pk").first()
    page = client.get("/prelabels/")
    assert f'name="current-{image.pk}" value="0"'.encode() in page.content
    annotation_add(image=image, taxon=taxon("badger"), author=coordinator)
    answer = client.post(
        "/prelabels/", {"images": [image.pk], f"current-{image.pk}": "0"}, follow=True
    )
    assert b"left alone, labelled by someone else" in answer.content
    assert Image.objects.get(pk=image.pk).current_source == LabelSource.EXPERT


def test_undefined_follows_the_organisations_threshold_of_the_day(api, pool, org):
    image = Image.objects.order_by("pk").first()
    score = SequencePrediction.objects.get(sequence_id=image.sequence_id, version=pool).score
    org.undefined_threshold = min(1.0, score + 0.01)
    org.save()
    assert api.get(f"/api/images/{image.pk}/prediction/").json()["sequence"]["undefined"] is True
    org.undefined_threshold = max(0.0, score - 0.01)
    org.save()
    assert api.get(f"/api/images/{image.pk}/prediction/").json()["sequence"]["undefined"] is False


def test_selection_reads_a_bounded_sample_when_nothing_is_labelled(pool, settings):
    settings.FAUNE = {**settings.FAUNE, "SELECTION_SCAN_LIMIT": 5}
    batch = selection_batch_open(user=None, strategy="random", size=3, seed=1)
    assert batch.restricted and 0 < batch.candidates <= 5
    again = selection_batch_open(user=None, strategy="random", size=3, seed=1)
    assert again.candidates == batch.candidates  # the sample is fixed by the seed, not by chance


@pytest.fixture
def head_without_vehicle(pool):
    """A version that cannot say 'vehicle', which the zero-shot production version says."""
    version = ModelVersion.objects.create(
        name="head",
        version="1",
        backbone=pool.backbone,
        head_kind="zero_shot",
        artifacts=pool.artifacts,
    )
    for index, row in enumerate(pool.classes.exclude(taxon__slug="vehicle")):
        version.classes.create(index=index, taxon=row.taxon)
    Image.objects.filter(pk=Image.objects.order_by("pk").first().pk).update(
        current_taxon=taxon("vehicle")
    )
    return version


def test_promoting_a_version_that_loses_a_class_asks_for_confirmation(
    client, coordinator, head_without_vehicle, pool, django_capture_on_commit_callbacks
):
    with pytest.raises(LostClasses, match="cannot say vehicle"):
        model_version_promote(version=head_without_vehicle)
    client.force_login(coordinator)
    answer = client.post(
        f"/models/{head_without_vehicle.pk}/status/", {"status": "production"}, follow=True
    )
    assert b"cannot say <b>vehicle</b>" in answer.content and b"Promote anyway" in answer.content
    assert ModelVersion.objects.get(status="production") == pool
    api = client_for(coordinator)
    refused = api.post(
        f"/api/models/{head_without_vehicle.pk}/status/", {"status": "production"}, format="json"
    )
    assert refused.status_code == 409 and "vehicle" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        unseen = client.post(
            f"/models/{head_without_vehicle.pk}/status/",  # confirmed, but not the loss
            {"status": "production", "confirm": "1"},
            follow=True,
        )
        assert (
            b"cannot say vehicle" in unseen.content
            and ModelVersion.objects.get(status="production") == pool
        )
        confirmed = client.post(
            f"/models/{head_without_vehicle.pk}/status/",
            {"status": "production", "confirm": "1", "lost": [taxon("vehicle").pk]},
            follow=True,
        )
    assert ModelVersion.objects.get(status="production") == head_without_vehicle
    change = ModelStatusChange.objects.filter(
        version=head_without_vehicle, to_status="production"
    ).get()
    assert change.changed_by == coordinator and "confirmed despite losing vehicle" in change.note
    log = confirmed.content.decode()
    assert "cora" in log and "candidate → production" in log and "production → archived" in log


def test_every_status_change_is_on_record(client, coordinator, pool, head_without_vehicle):
    api = client_for(coordinator)
    assert (
        api.post(
            f"/api/models/{head_without_vehicle.pk}/status/", {"status": "rejected"}, format="json"
        ).status_code
        == 200
    )
    assert (
        api.post(
            f"/api/models/{pool.pk}/status/", {"status": "archived"}, format="json"
        ).status_code
        == 400
    )
    rows = list(
        ModelStatusChange.objects.order_by("pk").values_list(
            "version__name", "from_status", "to_status", "changed_by__username"
        )
    )
    assert rows[-1] == ("head", "candidate", "rejected", "cora")
    assert ("efficientnet-lite0-zero-shot", "candidate", "production", None) in rows


def test_a_merge_works_out_the_surviving_sequences_verdict_again(
    api,
    zero_shot,
    settings,
    org,
    django_capture_on_commit_callbacks,
):
    org.sequence_maxlag_s = 35
    org.save()
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            upload("a.jpg", jpeg_bytes(size=(96, 72), seed=1, taken="2024:05:01 10:00:00")),
            upload("b.jpg", jpeg_bytes(size=(96, 72), seed=2, taken="2024:05:01 10:01:00")),
            deployment_name="Cam",
        )
    assert SequencePrediction.objects.filter(version=zero_shot).count() == 2
    before = {row.sequence_id: row.updated_at for row in SequencePrediction.objects.all()}
    settings.FAUNE = {
        **settings.FAUNE,
        "AFTER_INGEST_TASKS": [],
    }  # the bridging frame itself is not pre-labelled
    with django_capture_on_commit_callbacks(execute=True):
        post(
            api,
            upload("c.jpg", jpeg_bytes(size=(96, 72), seed=3, taken="2024:05:01 10:00:30")),
            deployment_name="Cam",
        )
    survivor = Image.objects.get(original_name="c.jpg").sequence_id
    verdict = SequencePrediction.objects.get(version=zero_shot)
    assert (
        verdict.sequence_id == survivor and Image.objects.filter(sequence_id=survivor).count() == 3
    )
    assert verdict.updated_at > before[survivor]  # aggregated again over the frames it now holds
