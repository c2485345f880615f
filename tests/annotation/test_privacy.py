"""People in photographs: blurred where they stand (the whole frame when nobody says where)
for everyone outside the image's organisation, on real pixels; originals for its members and
the coordinators."""

import io
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from PIL import Image as PILImage

from annotation.ingest.blur import blur_people, blurred_jpeg
from annotation.models import Image, Role
from annotation.privacy import people_in
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_add_uploads, batch_open
from faune_platform.boxes import Box, DetectorCategory
from inference.engine.detections import Detection as Found
from inference.models import BoxSource
from inference.services.boxes import store_detections
from tests import factories
from tests.factories import taxon, upload

pytestmark = pytest.mark.django_db


def textured(width: int = 240, height: int = 160, seed: int = 0) -> PILImage.Image:
    """A picture with detail everywhere (a blur of a flat colour would change nothing)."""
    rng = np.random.default_rng(seed)
    return PILImage.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).astype(int)


def region(array: np.ndarray, box: Box, pad: float = 0.0) -> tuple[slice, slice]:
    height, width = array.shape[:2]
    x, y, w, h = box.to_tuple()
    return (
        slice(int((y - pad * h) * height), int((y + h * (1 + pad)) * height) + 1),
        slice(int((x - pad * w) * width), int((x + w * (1 + pad)) * width) + 1),
    )


def outside(array: np.ndarray, box, pad: float = 0.15) -> np.ndarray:
    mask = np.ones(array.shape[:2], dtype=bool)
    mask[region(array, box, pad)] = False
    return mask


BOX = Box(0.5, 0.25, 0.25, 0.5)
BODY = Box(0.1, 0.1, 0.3, 0.6)


def test_the_box_is_hidden_and_every_other_pixel_kept():
    original = textured()
    hidden = blur_people(original, [BOX])
    before, after = np.asarray(original).astype(int), np.asarray(hidden).astype(int)
    inside = region(before, BOX)
    assert np.abs(before[inside] - after[inside]).mean() > 40  # a noise texture averaged away
    assert after[inside].std() < before[inside].std() / 3
    keep = outside(before, BOX)
    assert np.array_equal(before[keep], after[keep])


def test_no_box_hides_the_whole_frame():
    original = textured(seed=1)
    after = np.asarray(blur_people(original, [])).astype(int)
    assert np.abs(np.asarray(original).astype(int) - after).mean() > 40


def test_the_copy_is_upright_when_the_camera_wrote_an_orientation():
    rotated = factories.jpeg_bytes(
        size=(80, 40), orientation=6, seed=3
    )  # displayed 40 wide, 80 high
    assert PILImage.open(io.BytesIO(blurred_jpeg(rotated, [BOX]))).size == (40, 80)


@pytest.fixture
def photos(org, partner):
    """Three textured JPEGs of the partner's organisation: one labelled human with a box, one with a
    detector's person box, one with an animal only."""
    batch = batch_open(organisation=org, uploader=partner)
    files = []
    for seed in range(3):
        out = io.BytesIO()
        textured(seed=seed + 10).save(out, "JPEG", quality=95)
        files.append(upload(f"photo{seed}.jpg", out.getvalue()))
    images = [item.image for item in batch_add_uploads(batch=batch, uploads=files)]
    annotation_add(image=images[0], taxon=taxon("human"), author=partner, box=BOX)
    found = [Found(DetectorCategory.PERSON, 0.9, BODY), Found(DetectorCategory.ANIMAL, 0.8, BOX)]
    store_detections(images[1], found=found, source=BoxSource.MEGADETECTOR_JSON, detector="md.json")
    annotation_add(image=images[1], taxon=taxon("red-deer"), author=partner)
    annotation_add(image=images[2], taxon=taxon("red-deer"), author=partner)
    return [Image.objects.get(pk=image.pk) for image in images]


def test_people_are_found_by_label_and_by_detector(photos):
    found = people_in([image.pk for image in photos])
    assert found == {photos[0].pk: (BOX,), photos[1].pk: (BODY,)}


def test_a_human_label_without_a_box_hides_the_whole_frame(photos, partner):
    annotation_add(image=photos[2], taxon=taxon("human"), author=partner)
    assert people_in([photos[2].pk]) == {photos[2].pk: ()}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _stored(image: Image) -> bytes:
    return Path(image.file.path).read_bytes()


@pytest.fixture
def human_expert(other_org):
    """An expert of the human taxon (and red deer) in another organisation: sees the images, not
    the people."""
    return factories.member(
        "hugo", other_org, Role.EXPERT, taxa=[taxon("human"), taxon("red-deer")]
    )


def test_an_expert_of_another_organisation_sees_people_blurred(photos, human_expert):
    client = _client(human_expert)
    for image, box in ((photos[0], BOX), (photos[1], BODY)):
        response = client.get(f"/images/{image.pk}/file")
        assert response.status_code == 200
        served, original = pixels(b"".join(response.streaming_content)), pixels(_stored(image))
        inside = region(original, box)
        assert np.abs(served[inside] - original[inside]).mean() > 30
        keep = outside(original, box)
        assert np.abs(served[keep] - original[keep]).mean() < 4  # only the JPEG re-encoding differs
    unpeopled = client.get(f"/images/{photos[2].pk}/file")
    assert b"".join(unpeopled.streaming_content) == _stored(photos[2])  # no person: the original


def test_thumbnails_are_blurred_too(photos, human_expert):
    response = _client(human_expert).get(f"/images/{photos[0].pk}/thumbnail")
    served = pixels(b"".join(response.streaming_content))
    original = pixels(Path(photos[0].thumbnail.path).read_bytes())
    inside = region(original, BOX)
    assert np.abs(served[inside] - original[inside]).mean() > 20


@pytest.mark.parametrize("who", ["partner", "coordinator"])
def test_the_organisation_and_coordinators_see_the_original(photos, request, who):
    client = _client(request.getfixturevalue(who))
    for image in photos:
        response = client.get(f"/images/{image.pk}/file")
        assert b"".join(response.streaming_content) == _stored(image)


def test_a_video_showing_people_is_not_played_outside_its_organisation(
    org, partner, human_expert, tmp_path
):
    batch = batch_open(organisation=org, uploader=partner)
    clip = batch_add_uploads(
        batch=batch, uploads=[upload("clip.mp4", factories.video_bytes(tmp_path), "video/mp4")]
    )[0].image
    annotation_add(image=clip, taxon=taxon("human"), author=partner)
    client = _client(human_expert)
    refused = client.get(f"/images/{clip.pk}/file")
    assert refused.status_code == 403 and b"shows people" in refused.content
    assert client.get(f"/images/{clip.pk}/thumbnail").status_code == 200  # a still, blurred
    assert _client(partner).get(f"/images/{clip.pk}/file").status_code == 200


def test_a_real_photograph_of_a_walker(org, partner, human_expert, shared_camtrap):
    """A real camera-trap frame with a person (speciesnet test data) and a detector's box
    around him."""
    path = shared_camtrap / "speciesnet_test" / "images" / "human.jpg"
    batch = batch_open(organisation=org, uploader=partner)
    image = batch_add_uploads(batch=batch, uploads=[upload("walker.jpg", path.read_bytes())])[
        0
    ].image
    walker = Box(0.705, 0.49, 0.075, 0.245)
    store_detections(
        image,
        found=[Found(DetectorCategory.PERSON, 0.92, walker)],
        source=BoxSource.DETECTOR,
        detector="MDV6.pt",
    )
    annotation_add(image=image, taxon=taxon("human"), author=partner)
    response = _client(human_expert).get(f"/images/{image.pk}/file")
    served, original = pixels(b"".join(response.streaming_content)), pixels(path.read_bytes())
    assert served.shape == original.shape
    inside = region(original, walker)
    assert np.abs(served[inside] - original[inside]).mean() > 8
    keep = outside(original, walker)
    assert np.abs(served[keep] - original[keep]).mean() < 3
