"""A small pool for the export tests, built through the platform's own services: two organisations,
a camera with its metadata, labelled and unlabelled sequences, a person, a production model's
predictions, detections."""

import datetime as dt
from dataclasses import dataclass

from annotation.models import Deployment, Image, Organisation
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_add_uploads, batch_open
from annotation.services.organisations import deployment_get_or_create
from faune_platform.boxes import Box, DetectorCategory
from inference.engine.detections import Detection as Found
from inference.engine.specs import EFFICIENTNET_LITE0
from inference.models import BoxSource, ModelVersion, Prediction, SequencePrediction
from inference.services.boxes import store_detections
from tests.factories import jpeg_bytes, taxon, upload


@dataclass
class Pool:
    org: Organisation
    other: Organisation
    camera: Deployment
    deer: list[
        Image
    ]  # a sequence of three frames, labelled red deer (two animals), one frame boxed
    person: Image  # alone in its sequence, labelled human with a box
    fox: list[Image]  # a sequence of two frames nobody labelled; the model says fox
    unknown: Image  # alone, unlabelled, unpredicted
    foreign: list[Image]  # the other organisation's
    version: ModelVersion


def textured_jpeg(seed: int, taken: str) -> bytes:
    """A photograph with detail everywhere, so that blurring a part of it shows (a flat colour
    would not)."""
    import io

    import numpy as np
    from PIL import Image as PILImage

    flat = PILImage.open(io.BytesIO(jpeg_bytes(size=(160, 120), seed=seed, taken=taken)))
    noise = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(noise).save(out, "JPEG", quality=95, exif=flat.getexif().tobytes())
    return out.getvalue()


def _upload(
    org: Organisation, user, deployment: Deployment, files: list[tuple[str, int, str]]
) -> list[Image]:
    batch = batch_open(organisation=org, uploader=user, deployment=deployment)
    uploads = [upload(name, textured_jpeg(seed, taken)) for name, seed, taken in files]
    items = batch_add_uploads(batch=batch, uploads=uploads)
    assert all(item.outcome == "imported" for item in items), [item.reason for item in items]
    return [item.image for item in items]


def build_pool(org: Organisation, other: Organisation, partner, other_partner) -> Pool:
    camera = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    Deployment.objects.filter(pk=camera.pk).update(
        location_name="Col du Lautaret, north slope",
        latitude=45.0354,
        longitude=6.4041,
        camera_id="SN-0042",
        camera_make="Reconyx",
        camera_model="HF2X",
        habitat="larch forest edge",
        start=dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC),
        end=dt.datetime(2024, 6, 1, 18, 0, tzinfo=dt.UTC),
    )
    camera.refresh_from_db()
    deer = _upload(
        org,
        partner,
        camera,
        [
            ("card/IMG_0001.JPG", 1, "2024:05:02 06:00:00"),
            ("card/IMG_0002.JPG", 2, "2024:05:02 06:00:02"),
            ("card/IMG_0003.JPG", 3, "2024:05:02 06:00:04"),
        ],
    )
    person = _upload(org, partner, camera, [("card/IMG_0010.JPG", 10, "2024:05:03 12:00:00")])[0]
    fox = _upload(
        org,
        partner,
        camera,
        [
            ("card/IMG_0020.JPG", 20, "2024:05:04 22:00:00"),
            ("card/IMG_0021.JPG", 21, "2024:05:04 22:00:03"),
        ],
    )
    unknown = _upload(org, partner, camera, [("card/IMG_0030.JPG", 30, "2024:05:05 09:00:00")])[0]
    away = deployment_get_or_create(
        organisation=other, name="Col du Lautaret"
    )  # same name, other organisation
    foreign = _upload(
        other,
        other_partner,
        away,
        [
            ("secret/IMG_9001.JPG", 90, "2024:05:02 06:00:01"),
            ("secret/IMG_9002.JPG", 91, "2024:05:06 06:00:01"),
        ],
    )
    annotation_add(
        image=deer[0], taxon=taxon("red-deer"), author=partner, whole_sequence=True, count=2
    )
    annotation_add(
        image=deer[1],
        taxon=taxon("red-deer"),
        author=partner,
        count=2,
        box=Box(0.25, 0.5, 0.25, 0.25),
    )
    annotation_add(
        image=person, taxon=taxon("human"), author=partner, box=Box(0.5, 0.25, 0.25, 0.5)
    )
    annotation_add(image=foreign[0], taxon=taxon("wolf"), author=other_partner)
    version = _predictions(fox + foreign)
    store_detections(
        fox[0],
        found=[
            Found(DetectorCategory.ANIMAL, 0.91, Box(0.1, 0.2, 0.3, 0.4)),
            Found(DetectorCategory.ANIMAL, 0.55, Box(0.6, 0.2, 0.2, 0.3)),
        ],
        source=BoxSource.DETECTOR,
        detector="MDV6.pt",
    )
    store_detections(fox[1], found=[], source=BoxSource.DETECTOR, detector="MDV6.pt")
    return Pool(
        org,
        other,
        camera,
        _fresh(deer),
        _fresh([person])[0],
        _fresh(fox),
        _fresh([unknown])[0],
        _fresh(foreign),
        version,
    )


def _fresh(images: list[Image]) -> list[Image]:
    return [Image.objects.get(pk=image.pk) for image in images]


def _predictions(images: list[Image]) -> ModelVersion:
    version = ModelVersion.objects.create(
        name="deepfaune",
        version="1.3",
        backbone=EFFICIENTNET_LITE0.to_dict(),
        head_kind="checkpoint",
        status="production",
    )
    fox, wolf = taxon("fox"), taxon("wolf")
    version.classes.create(index=0, taxon=fox)
    version.classes.create(index=1, taxon=wolf)
    for image in images:
        Prediction.objects.create(
            image=image,
            version=version,
            category="animal",
            taxon=fox,
            score=0.93,
            top=[[fox.pk, 0.93], [wolf.pk, 0.07]],
        )
    for sequence_id in {image.sequence_id for image in images}:
        SequencePrediction.objects.create(
            sequence_id=sequence_id,
            version=version,
            category="animal",
            taxon=fox,
            score=0.95,
            top=[[fox.pk, 0.95], [wolf.pk, 0.05]],
        )
    return version
