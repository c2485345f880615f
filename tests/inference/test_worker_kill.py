"""A worker killed with SIGKILL in the middle of a pre-label job: a restarted worker resumes the job within the
queue's retry time (minutes in production, seconds here), and the run record ends done, not "running" forever."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.conf import Conf

from annotation.models import Image
from faune_platform.jobs import sweep_all
from inference.models import Prediction, PrelabelRun
from inference.services.registry import default_version_ensure
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_taxa")]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 15  # the task time limit the worker runs with; its retry time is then 25 s
IMAGES = 240


def _start_worker(settings) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "faune_platform.settings.base",
           "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}", "FAUNE_DATA_DIR": str(settings.DATA_DIR),
           "FAUNE_SECRET_KEY": settings.SECRET_KEY, "FAUNE_QUEUE_NAME": settings.Q_CLUSTER["name"],
           "FAUNE_JOB_TIMEOUT_S": str(TIMEOUT_S), "FAUNE_JOB_CHUNK_S": "1", "FAUNE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # the whole cluster: sentinel, workers, monitor
    process.wait(timeout=20)


def _wait(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.3)
    return time.monotonic() - started


@pytest.fixture
def announced(settings, monkeypatch, partner):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for real: the worker subprocess runs the jobs
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"]}
    default_version_ensure()
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(IMAGES)]
    response = client_for(partner).post("/api/images/", {"files": files, "deployment_name": "Cam"},
                                        format="multipart")
    assert response.status_code == 201
    return response.json()["batch"]


def test_a_killed_worker_resumes_the_prelabel_job(settings, announced):
    worker = _start_worker(settings)
    try:
        _wait(lambda: PrelabelRun.objects.filter(batch_id=announced, done__gt=0, status="running").exists(), 180,
              "the first worker is in the middle of a chunk")
        _kill(worker)
        run = PrelabelRun.objects.get(batch_id=announced)
        assert run.done < IMAGES, "killed too late: the job was already finished"
        worker = _start_worker(settings)
        waited = _wait(lambda: PrelabelRun.objects.get(pk=run.pk).status == "done", 180,
                       "a restarted worker finishes the job")
    finally:
        _kill(worker)
    assert waited < TIMEOUT_S + 10 + 90  # the retry time, plus start-up and the rest of the work
    assert Prediction.objects.filter(image__batch_id=announced).count() == Image.objects.count() == IMAGES
    run = PrelabelRun.objects.get(pk=run.pk)
    assert run.done == run.total == IMAGES and run.finished_at is not None


def test_the_sweep_resumes_a_job_whose_worker_stopped(settings, partner, django_capture_on_commit_callbacks):
    """Where the broker cannot deliver the task again (Redis, or a task dropped after too many attempts), the
    periodic sweep queues the stale job again (inline here), and fails it after too many resumes."""
    from django.utils import timezone

    default_version_ensure()
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(3)]
    batch = client_for(partner).post("/api/images/", {"files": files}, format="multipart").json()["batch"]
    version = default_version_ensure()
    stale = timezone.now() - timezone.timedelta(hours=1)
    run = PrelabelRun.objects.create(version=version, batch_id=batch, status="running", token="killed",
                                     heartbeat_at=stale)
    sweep_all()
    run.refresh_from_db()
    assert run.status == "done" and run.resumes == 1 and Prediction.objects.count() == 3
    PrelabelRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=stale, resumes=3)
    sweep_all()
    run.refresh_from_db()
    assert run.status == "failed" and "stopped 4 times" in run.error


def test_a_record_left_running_before_heartbeats_existed_is_swept(settings, partner):
    default_version_ensure()
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(2)]
    batch = client_for(partner).post("/api/images/", {"files": files}, format="multipart").json()["batch"]
    legacy = PrelabelRun.objects.create(version=default_version_ensure(), batch_id=batch, status="running")
    assert legacy.heartbeat_at is None
    sweep_all()
    legacy.refresh_from_db()
    assert legacy.status == "done" and Prediction.objects.count() == 2
