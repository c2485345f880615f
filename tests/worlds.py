"""Some of everything a platform holds, for the tests that walk every URL or API operation: detail
URLs and drawn ids must reach real rows of each kind."""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User

from annotation.models import Deployment, Image, Organisation, ReviewState, ReviewTask, UploadBatch
from annotation.services.annotations import annotation_add
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from annotation.services.review import ReviewItem, review_tasks_create
from inference.models import ModelVersion
from inference.services.registry import default_version_ensure
from tests.factories import taxon, write_jpeg
from training.models import RoundStatus, TrainingRound


@dataclass
class World:
    camera: Deployment
    batch: UploadBatch
    images: list[Image]  # dated a month apart; the first labelled fox by the partner
    task: ReviewTask  # open, on the first frame, in the red deer's queue
    disputed: ReviewTask  # on the second frame, in conflict
    version: ModelVersion  # the default model
    training_round: TrainingRound  # finished


def some_of_everything(
    *, org: Organisation, partner: User, coordinator: User, folder: Path, frames: int = 2
) -> World:
    camera = deployment_get_or_create(organisation=org, name="Col 1", latitude=45.0, longitude=6.0)
    batch = batch_open(organisation=org, uploader=partner, deployment=camera)
    images = []
    for month in range(1, frames + 1):
        path = write_jpeg(
            folder / f"{month}.jpg", seed=month, taken=f"2024:{month + 4:02}:01 10:00:00"
        )
        images.append(image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image)
    annotation_add(image=images[0], taxon=taxon("fox"), author=partner, announce=False)
    task, disputed = review_tasks_create(
        items=[
            ReviewItem(images[0], taxon("red-deer"), "margin pick", 0.9),
            ReviewItem(images[1], None, "undefined", 0.5),
        ],
        origin="test",
    )
    ReviewTask.objects.filter(pk=disputed.pk).update(state=ReviewState.CONFLICT)
    version = default_version_ensure()
    training_round = TrainingRound.objects.create(
        created_by=coordinator,
        status=RoundStatus.DONE,
        active=None,
        params={"mode": "head"},
        finished_at=dt.datetime.now(dt.UTC),
    )
    return World(camera, batch, images, task, disputed, version, training_round)
