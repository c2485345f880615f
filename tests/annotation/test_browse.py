"""Browsing the pool through the image list's filters: where each shown label comes from (a person,
an expert, an import, only the model's pre-label, nothing), dates, the taxon a thumbnail shows,
stepping to the previous and next image of the same list, and the boxes the image page draws."""

import datetime as dt
import zlib

import pytest
from django.test import Client

from annotation.browse import Browse, browse_neighbours, images_browse, label_boxes
from annotation.models import Image
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from annotation.services.organisations import deployment_get_or_create
from faune_platform.boxes import Box
from inference.models import BoxSource, Detection, Prediction
from inference.services.registry import default_version_ensure
from tests.conftest import client_for
from tests.factories import taxon, write_jpeg

pytestmark = pytest.mark.django_db


def ingest(org, camera, tmp_path, name: str, *, day: int = 1, labels=()) -> Image:
    batch = batch_open(organisation=org, uploader=None, deployment=camera)
    path = write_jpeg(
        tmp_path / f"{name}.jpg",
        seed=zlib.crc32(name.encode()),
        taken=dt.datetime(2024, 5, day, 10),
    )
    hints = IngestHints(labels=tuple(labels))
    return image_ingest(
        path=path, name=path.name, batch=batch, deployment=camera, hints=hints
    ).image


def predict(image: Image, slug: str, score: float) -> Prediction:
    return Prediction.objects.create(
        image=image,
        version=default_version_ensure(),
        category="animal",
        taxon=taxon(slug),
        score=score,
        top=[[taxon(slug).pk, score]],
    )


@pytest.fixture
def pool(org, partner, expert, coordinator, tmp_path):
    """One image per source of label, all on camera A but the last, on camera B."""
    camera, other = (deployment_get_or_create(organisation=org, name=name) for name in ("A", "B"))
    images = {
        name: ingest(org, camera, tmp_path, name, day=day)
        for day, name in enumerate(["partner", "accepted", "expert", "model", "nothing"], start=1)
    }
    images["import"] = ingest(
        org, other, tmp_path, "import", day=6, labels=[IngestLabel(taxon("badger"))]
    )
    annotation_add(image=images["partner"], taxon=taxon("fox"), author=partner, announce=False)
    annotation_add(
        image=images["accepted"],
        taxon=taxon("fox"),
        author=partner,
        accept_prediction=True,
        announce=False,
    )
    annotation_add(image=images["expert"], taxon=taxon("red-deer"), author=coordinator)
    predict(images["model"], "fox", 0.83)
    predict(images["expert"], "fox", 0.4)  # labelled since: its pre-label is not what it shows
    return {name: Image.objects.get(pk=image.pk) for name, image in images.items()}


def names(user, **filters) -> list[str]:
    return sorted(
        image.original_name.removesuffix(".jpg") for image in images_browse(user, Browse(**filters))
    )


def test_each_source_of_label_is_a_filter(pool, partner):
    assert names(partner, source="human") == ["accepted", "partner"]
    assert names(partner, source="expert") == ["expert"]
    assert names(partner, source="import") == ["import"]
    assert names(partner, source="model") == ["model"]
    assert names(partner, source="none") == ["nothing"]
    assert len(names(partner)) == 6


def test_the_taxon_filter_matches_what_a_thumbnail_shows(pool, partner):
    # the unlabelled image the model calls a fox is a fox here; the deer the model called a fox
    # is not
    assert names(partner, taxon=taxon("fox").pk) == ["accepted", "model", "partner"]
    assert names(partner, taxon=taxon("fox").pk, source="model") == ["model"]
    assert names(partner, taxon=taxon("red-deer").pk) == ["expert"]


def test_deployment_and_date_range_include_the_whole_last_day(pool, partner):
    b = pool["import"].deployment_id
    assert names(partner, deployment=b) == ["import"]
    assert names(partner, taken_from=dt.date(2024, 5, 2), taken_to=dt.date(2024, 5, 3)) == [
        "accepted",
        "expert",
    ]
    assert names(partner, taken_to=dt.date(2024, 5, 1)) == ["partner"]
    assert names(partner, taken_to=dt.date.max) == names(partner)


def test_an_image_that_left_the_filter_still_has_neighbours(pool, partner, coordinator):
    unlabelled = images_browse(
        partner, Browse(labelled=False)
    )  # model, nothing, newest first: nothing, model
    order = list(unlabelled.values_list("original_name", flat=True))
    assert order == ["nothing.jpg", "model.jpg"]
    first = browse_neighbours(unlabelled, pool["nothing"])
    assert (first.previous, first.next, first.position, first.total) == (
        None,
        pool["model"].pk,
        1,
        2,
    )
    annotation_add(
        image=pool["nothing"], taxon=taxon("wolf"), author=coordinator
    )  # leaves the filter
    after = browse_neighbours(images_browse(partner, Browse(labelled=False)), pool["nothing"])
    assert (after.previous, after.next, after.position, after.total) == (
        None,
        pool["model"].pk,
        None,
        1,
    )
    back = browse_neighbours(images_browse(partner, Browse(labelled=False)), pool["model"])
    assert (back.previous, back.next, back.position) == (None, None, 1)


def test_the_image_list_page_refuses_bad_dates_with_a_message(pool, partner):
    client = Client()
    client.force_login(partner)
    response = client.get("/images/", {"taken_from": "2024-13-01"})
    assert (
        response.status_code == 400
        and "Taken from: Enter a valid date." in response.content.decode()
    )
    response = client.get("/images/", {"taken_from": "2024-05-03", "taken_to": "2024-05-01"})
    assert response.status_code == 400
    assert (
        "The date range ends (2024-05-01) before it starts (2024-05-03)."
        in response.content.decode()
    )
    response = client.get("/images/", {"source": "aliens"})
    assert (
        response.status_code == 400
        and "Label from: Select a valid choice." in response.content.decode()
    )
    assert client.get("/images/", {"source": "model", "taken_to": "2024-05-31"}).status_code == 200


def test_the_boxes_drawn_are_the_newest_pass_of_boxes(org, coordinator, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="A")
    two = [
        IngestLabel(taxon("fox"), Box(0.1, 0.2, 0.3, 0.4)),
        IngestLabel(taxon("badger"), Box(0.5, 0.5, 0.2, 0.2)),
        IngestLabel(taxon("badger"), Box(0.5, 0.5, 0.2, 0.2)),
    ]  # listed twice in the dataset: drawn once
    image = ingest(org, camera, tmp_path, "boxes", labels=two)
    assert sorted(box.annotation.taxon.slug for box in label_boxes(image)) == ["badger", "fox"]
    assert label_boxes(image)[0].style.startswith("left: ")
    annotation_add(
        image=image, taxon=taxon("fox"), author=coordinator
    )  # no box: the import's boxes stay
    assert len(label_boxes(image)) == 2
    annotation_add(
        image=image, taxon=taxon("fox"), author=coordinator, box=Box(0.125, 0.25, 0.5, 0.5)
    )
    [box] = label_boxes(image)
    assert box.source == "expert"
    assert box.style == "left: 12.5000%; top: 25.0000%; width: 50.0000%; height: 50.0000%"


def test_detections_api_gives_trusted_boxes_to_those_who_see_the_image(
    pool, partner, other_partner, settings
):
    image = pool["model"]
    for category, confidence in (("animal", 0.9), ("animal", 0.05), ("empty", 1.0)):
        Detection.objects.create(
            image=image,
            source=BoxSource.MEGADETECTOR_JSON,
            detector="md.json",
            category=category,
            confidence=confidence,
            box_x=0.1,
            box_y=0.2,
            box_w=0.3,
            box_h=0.4,
        )
    body = client_for(partner).get(f"/api/images/{image.pk}/detections/").json()
    assert body["threshold"] == settings.FAUNE["DETECTION_THRESHOLD"]
    assert body["detections"] == [
        {
            "category": "animal",
            "confidence": 0.9,
            "box": [0.1, 0.2, 0.3, 0.4],
            "source": "megadetector_json",
            "source_label": "imported MegaDetector output",
            "detector": "md.json",
        }
    ]
    assert client_for(other_partner).get(f"/api/images/{image.pk}/detections/").status_code == 404
