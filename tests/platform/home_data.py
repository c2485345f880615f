"""Data behind the home page tests (database and browser): a camera's images with pre-labels of the
production version, some labelled, review tasks, and a trained production version with the round
that tested it."""

import datetime as dt
from pathlib import Path

from django.utils import timezone

from annotation.models import Image, Organisation, Taxon
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from inference.models import HeadKind, ModelClass, ModelVersion, Prediction, VersionStatus
from inference.services.registry import default_version_ensure
from tests.factories import taxon, write_jpeg
from training.models import RoundStatus, TrainingRound

FIRST_TAKEN = dt.datetime(
    2025, 6, 1, 0, 0
)  # camera time of a camera's first image; the next come hourly
# Pre-label scores of the unlabelled images: two at 0.5 or less (the home page points those
# out first).
SCORES = (0.3, 0.5, 0.9, 0.95)


def camera_images(
    organisation: Organisation,
    uploader,
    folder: Path,
    count: int,
    *,
    camera: str = "Col 1",
    first_seed: int = 0,
) -> list[Image]:
    """`count` images of one camera, an hour apart (one sequence each)."""
    deployment = deployment_get_or_create(organisation=organisation, name=camera)
    batch = batch_open(
        organisation=organisation, uploader=uploader, deployment=deployment, source_name="card-01"
    )
    images = []
    for index in range(count):
        path = write_jpeg(
            folder / f"{camera}-{index}.jpg",
            seed=first_seed + index,
            taken=FIRST_TAKEN + dt.timedelta(hours=index),
        )
        images.append(
            image_ingest(path=path, name=path.name, batch=batch, deployment=deployment).image
        )
    return images


def prelabelled_pool(organisation: Organisation, partner, folder: Path) -> dict:
    """Six images: one labelled by the partner, four with a pre-label waiting (SCORES), one not
    pre-labelled yet."""
    version = default_version_ensure()
    images = camera_images(organisation, partner, folder, 6)
    annotation_add(image=images[0], taxon=taxon("fox"), author=partner, announce=False)
    for image, score in zip([images[0], *images[1:5]], (0.99, *SCORES), strict=True):
        Prediction.objects.create(
            image=image, version=version, category="animal", taxon=taxon("fox"), score=score
        )
    return {"images": images, "version": version}


def review_tasks(images: list[Image], queue: Taxon | None, reason: str = "margin pick") -> None:
    review_tasks_create(
        items=[ReviewItem(image, queue, reason, 0.9) for image in images], origin="test"
    )


def trained_production(
    coordinator, *, macro_f1: float = 0.8712, accuracy: float = 0.9134
) -> ModelVersion:
    """A version trained by a finished round, in production in place of the zero-shot default."""
    default = default_version_ensure()
    ModelVersion.objects.filter(pk=default.pk).update(status=VersionStatus.ARCHIVED)
    version = ModelVersion.objects.create(
        name="Faune head",
        version="2025.1",
        backbone=default.backbone,
        head_kind=HeadKind.TRAINED_HEAD,
        status=VersionStatus.PRODUCTION,
    )
    for index, slug in enumerate(("fox", "red-deer", "roe-deer", "wild-boar")):
        ModelClass.objects.create(version=version, index=index, taxon=taxon(slug))
    TrainingRound.objects.create(
        created_by=coordinator,
        status=RoundStatus.DONE,
        active=None,
        candidate=version,
        finished_at=timezone.now(),
        metrics={"candidate": {"test": {"macro_f1": macro_f1, "accuracy": accuracy, "count": 412}}},
    )
    return version
