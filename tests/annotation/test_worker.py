"""A real django-q2 worker process picks up an import queued by the API and finishes it."""

import time

import pytest
from django_q.conf import Conf

from annotation.models import BatchStatus, UploadBatch
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload, zip_bytes
from tests.workers import worker_start, worker_stop

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def worker(settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for real instead of running inline
    process = worker_start(settings)
    yield process
    worker_stop(process)


def test_queued_import_is_run_by_the_worker(partner, worker):
    archive = zip_bytes({"Sanglier/1.jpg": jpeg_bytes(seed=1), "Renard/2.jpg": jpeg_bytes(seed=2)})
    response = client_for(partner).post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "classes"},
        format="multipart",
    )
    assert response.status_code == 202
    batch_id = response.json()["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        batch = UploadBatch.objects.get(pk=batch_id)
        if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            break
        assert worker.poll() is None, worker_stop(worker)
        time.sleep(0.5)
    if batch.status != BatchStatus.DONE:
        pytest.fail(f"{batch.status} {batch.error}\n" + worker_stop(worker))
    assert batch.images.count() == 2
