"""The pre-labelling phase of a batch as its pages show it, from the rows the worker writes (no
model runs here)."""

import pytest
from django.utils import timezone

from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from faune_platform.jobs import JobStatus
from inference.models import HeadKind, ModelVersion, Prediction, PrelabelRun, VersionStatus
from inference.selectors import batch_prelabel_progress
from tests.factories import write_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(org, partner, tmp_path):
    batch = batch_open(organisation=org, uploader=partner)
    for seed in (1, 2):
        path = write_jpeg(tmp_path / f"{seed}.jpg", seed=seed)
        image_ingest(path=path, name=path.name, batch=batch, deployment=None)
    return batch


def production() -> ModelVersion:
    return ModelVersion.objects.create(
        name="m",
        version="1",
        backbone={},
        head_kind=HeadKind.TRAINED_HEAD,
        status=VersionStatus.PRODUCTION,
    )


def test_without_a_production_model_nothing_is_pre_labelled(batch):
    assert batch_prelabel_progress(batch)["state"] == "no_model"


def test_waiting_running_done(batch):
    version = production()
    assert batch_prelabel_progress(batch) == {
        "state": "waiting",
        "images": 2,
        "predicted": 0,
        "error": "",
        "version": "m 1",
        "zero_shot": False,
    }
    run = PrelabelRun.objects.create(version=version, batch=batch, status=JobStatus.RUNNING)
    assert batch_prelabel_progress(batch)["state"] == "running"
    for image in batch.images.all():
        Prediction.objects.create(image=image, version=version, category="animal", score=0.5)
    assert batch_prelabel_progress(batch)["state"] == "done"
    Prediction.objects.filter(
        image=batch.images.first()
    ).delete()  # one unreadable image: skipped for good
    PrelabelRun.objects.filter(pk=run.pk).update(status=JobStatus.DONE, finished_at=timezone.now())
    progress = batch_prelabel_progress(batch)
    assert (progress["state"], progress["predicted"], progress["images"]) == ("done", 1, 2)


def test_a_run_that_ended_before_the_last_files_arrived_is_not_done(batch):
    version = production()
    PrelabelRun.objects.create(
        version=version,
        batch=batch,
        status=JobStatus.DONE,
        finished_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    assert batch_prelabel_progress(batch)["state"] == "waiting"


def test_a_failed_run_says_why_and_a_pool_run_counts_as_running(batch):
    version = production()
    PrelabelRun.objects.create(version=version, batch=None, status=JobStatus.RUNNING)
    assert batch_prelabel_progress(batch)["state"] == "running"
    PrelabelRun.objects.create(
        version=version, batch=batch, status=JobStatus.FAILED, error="out of memory"
    )
    assert batch_prelabel_progress(batch)["state"] == "failed"
    assert batch_prelabel_progress(batch)["error"] == "out of memory"
