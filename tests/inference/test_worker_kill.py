"""A worker killed with SIGKILL in the middle of a pre-label job: a restarted worker resumes the job
within the queue's retry time (minutes in production, seconds here), and the run record ends done,
not "running" forever."""

import subprocess

import pytest
from django_q.conf import Conf

from annotation.models import Image
from faune_platform.jobs import sweep_all
from inference.models import Prediction, PrelabelRun
from inference.services.registry import default_version_ensure
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload
from tests.workers import resume_bound, wait_until, worker_start, worker_stop

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]
TIMEOUT_S = 15  # the task time limit the worker runs with; its retry time is then 25 s
IMAGES = 240


STALE_S = 5  # how long a running job may go without a heartbeat before the sweep queues it again


def _start_worker(settings) -> subprocess.Popen:
    return worker_start(
        settings,
        FAUNE_JOB_TIMEOUT_S=str(TIMEOUT_S),
        FAUNE_JOB_CHUNK_S="1",
        FAUNE_JOB_STALE_S=str(STALE_S),
        FAUNE_JOB_SWEEP_MINUTES="1",
        FAUNE_LOG_LEVEL="WARNING",
    )


def _kill(process: subprocess.Popen) -> None:
    worker_stop(process, kill=True)  # the whole cluster: sentinel, workers, monitor


def _explain(batch_id: int, worker: subprocess.Popen) -> str:
    from django_q.models import Schedule

    schedules = list(Schedule.objects.values("name", "next_run", "repeats", "cluster"))
    run = list(
        PrelabelRun.objects.filter(batch_id=batch_id).values(
            "status", "done", "heartbeat_at", "resumes"
        )
    )
    return f"run {run}\nschedules {schedules}\nworker:\n{worker_stop(worker)}"


@pytest.fixture
def announced(zero_shot, monkeypatch, partner):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for real: the worker subprocess runs the jobs
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(IMAGES)]
    response = client_for(partner).post(
        "/api/images/", {"files": files, "deployment_name": "Cam"}, format="multipart"
    )
    assert response.status_code == 201
    return response.json()["batch"]


def test_a_killed_worker_resumes_the_prelabel_job(settings, announced):
    bound = resume_bound(settings, STALE_S, TIMEOUT_S)
    worker = _start_worker(settings)
    try:
        wait_until(
            lambda: PrelabelRun.objects.filter(
                batch_id=announced, done__gt=0, status="running"
            ).exists(),
            180,
            "the first worker is in the middle of a chunk",
            lambda: _explain(announced, worker),
        )
        _kill(worker)
        run = PrelabelRun.objects.get(batch_id=announced)
        assert run.done < IMAGES, "killed too late: the job was already finished"
        worker = _start_worker(settings)
        waited = wait_until(
            lambda: PrelabelRun.objects.get(pk=run.pk).status == "done",
            bound + 60,
            "a restarted worker finishes the job",
            lambda: _explain(announced, worker),
        )
    finally:
        _kill(worker)
    assert waited < bound
    assert (
        Prediction.objects.filter(image__batch_id=announced).count()
        == Image.objects.count()
        == IMAGES
    )
    run = PrelabelRun.objects.get(pk=run.pk)
    assert run.done == run.total == IMAGES and run.finished_at is not None


def test_the_sweep_resumes_a_job_whose_worker_stopped(
    settings, partner, django_capture_on_commit_callbacks
):
    """Where the broker cannot deliver the task again (Redis, or a task dropped after too many
    attempts), the periodic sweep queues the stale job again (inline here), and fails it after too
    many resumes."""
    from django.utils import timezone

    default_version_ensure()
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(3)]
    batch = (
        client_for(partner)
        .post("/api/images/", {"files": files}, format="multipart")
        .json()["batch"]
    )
    version = default_version_ensure()
    stale = timezone.now() - timezone.timedelta(hours=1)
    run = PrelabelRun.objects.create(
        version=version, batch_id=batch, status="running", token="killed", heartbeat_at=stale
    )
    sweep_all()
    run.refresh_from_db()
    assert run.status == "done" and run.resumes == 1 and Prediction.objects.count() == 3
    PrelabelRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=stale, resumes=3)
    sweep_all()
    run.refresh_from_db()
    assert run.status == "failed" and "stopped 4 times" in run.error


def test_the_sweep_queues_again_a_job_whose_task_the_broker_lost(settings, partner):
    """Redis forgets the task a killed worker had fetched and not started: its job stays queued.
    While the broker still holds tasks the job may only be waiting its turn; once the broker stands
    empty, the sweep queues it again (run inline here), without counting it as a resume."""
    from django.utils import timezone
    from django_q.brokers import get_broker

    version = default_version_ensure()
    batch_ids = [
        client_for(partner)
        .post(
            "/api/images/", {"files": [upload(f"{k}.jpg", jpeg_bytes(seed=k))]}, format="multipart"
        )
        .json()["batch"]
        for k in range(2)
    ]
    stale = timezone.now() - timezone.timedelta(hours=1)
    lost = PrelabelRun.objects.create(
        version=version, batch_id=batch_ids[0], status="queued", token="lost", heartbeat_at=stale
    )
    waiting = PrelabelRun.objects.create(
        version=version, batch_id=batch_ids[1], status="queued", token="in line"
    )
    PrelabelRun.objects.filter(pk=waiting.pk).update(heartbeat_at=timezone.now())
    broker = get_broker()
    broker.enqueue("another job's task, ahead in the queue")
    sweep_all()
    assert PrelabelRun.objects.get(pk=lost.pk).token == "lost"  # it may be next in line
    broker.purge_queue()
    sweep_all()
    lost.refresh_from_db()
    assert (lost.status, lost.resumes) == ("done", 0) and Prediction.objects.count() == 1
    assert PrelabelRun.objects.get(pk=waiting.pk).token == "in line"  # queued just now


def test_a_record_left_running_before_heartbeats_existed_is_swept(settings, partner):
    default_version_ensure()
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(2)]
    batch = (
        client_for(partner)
        .post("/api/images/", {"files": files}, format="multipart")
        .json()["batch"]
    )
    legacy = PrelabelRun.objects.create(
        version=default_version_ensure(), batch_id=batch, status="running"
    )
    assert legacy.heartbeat_at is None
    sweep_all()
    legacy.refresh_from_db()
    assert legacy.status == "done" and Prediction.objects.count() == 2
