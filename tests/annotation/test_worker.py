"""A real django-q2 worker process picks up an import queued by the API and finishes it."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.conf import Conf

from annotation.models import BatchStatus, UploadBatch
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload, zip_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("seeded_taxa")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for real instead of running inline
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "faune_platform.settings.base",
           "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}", "FAUNE_DATA_DIR": str(settings.DATA_DIR),
           "FAUNE_SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
           "FAUNE_QUEUE_NAME": settings.Q_CLUSTER["name"]}
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_queued_import_is_run_by_the_worker(partner, worker):
    archive = zip_bytes({"Sanglier/1.jpg": jpeg_bytes(seed=1), "Renard/2.jpg": jpeg_bytes(seed=2)})
    response = client_for(partner).post("/api/imports/", {"archive": upload("set.zip", archive),
                                                          "format": "classes"}, format="multipart")
    assert response.status_code == 202
    batch_id = response.json()["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        batch = UploadBatch.objects.get(pk=batch_id)
        if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            break
        assert worker.poll() is None, worker.stdout.read().decode()
        time.sleep(0.5)
    if batch.status != BatchStatus.DONE:
        worker.terminate()
        pytest.fail(f"{batch.status} {batch.error}\n" + worker.communicate(timeout=20)[0].decode()[-3000:])
    assert batch.images.count() == 2
