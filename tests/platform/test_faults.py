"""Faults: a worker killed with SIGKILL at the worst moment of a selection job, a training round and
a release publish (a failpoint stops it there, see faune_platform/failpoints.py), and SQLite under
concurrent writers.

The work resumes within minutes or fails cleanly: no half-registered version, no duplicated task, no
lost label, no record left "running". Runs on SQLite here and on PostgreSQL with Redis in .ci/run's
integration pass."""

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django_q.conf import Conf

from annotation.models import Annotation, Image, ReviewTask, Sequence
from annotation.services.batches import batch_open
from faune_platform.failpoints import failpoint_reached
from faune_platform.jobs import sweep_all
from inference.models import Embedding, ModelVersion, Prediction, SelectionBatch
from inference.services.registry import default_version_ensure
from inference.services.selection import selection_batch_request
from tests.conftest import client_for
from tests.training.test_rounds import labelled_pool
from tests.workers import resume_bound, wait_until, worker_start, worker_stop
from training.models import Release, ReleaseRequest, TrainingRound
from training.services.releases import release_request, releases_dir
from training.services.rounds import training_round_start

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]
TIMEOUT_S = 15  # the task time limit of the workers here; the ORM broker's retry time is then 25 s
STALE_S = 5  # a running job with no heartbeat for this long is queued again by the sweep


@pytest.fixture(autouse=True)
def real_queue(settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for real: worker subprocesses run the jobs
    # The sweeps this process runs wait longer than the workers' staleness: a live chunk between two
    # heartbeats (loading a checkpoint, say) is never taken for a dead one.
    settings.FAUNE = {**settings.FAUNE, "JOB_STALE_S": 3 * STALE_S}
    shutil.rmtree(Path(settings.DATA_DIR) / "failpoints", ignore_errors=True)


def _worker(settings, *failpoints: str):
    return worker_start(
        settings,
        FAUNE_JOB_TIMEOUT_S=str(TIMEOUT_S),
        FAUNE_JOB_STALE_S=str(STALE_S),
        FAUNE_JOB_CHUNK_S="1",
        FAUNE_JOB_SWEEP_MINUTES="1",
        FAUNE_FAILPOINTS=",".join(failpoints),
    )


def _killed_at(settings, failpoint: str) -> None:
    """Start a worker that stops at `failpoint`, wait until it is there, and kill it (the
    whole cluster)."""
    worker = _worker(settings, failpoint)
    try:
        wait_until(
            lambda: failpoint_reached(failpoint),
            240,
            f"a worker reaches {failpoint}",
            lambda: worker_stop(worker),
        )
    finally:
        worker_stop(worker, kill=True)


def _resumed(settings, condition, what: str) -> float:
    """Restart a worker and wait for `condition`. With Redis (which never delivers a task twice) the
    stale job comes back through the sweep: here the test runs it every few seconds instead of
    waiting for the scheduler's minute (tests/inference/test_worker_kill.py shows the scheduled
    sweep doing it)."""
    redis = "redis" in settings.Q_CLUSTER
    bound = 3 * STALE_S + 10 + 90 if redis else resume_bound(settings, STALE_S, TIMEOUT_S)
    worker, swept = _worker(settings), [time.monotonic()]

    def done() -> bool:
        if redis and time.monotonic() - swept[0] > STALE_S:
            sweep_all()
            swept[0] = time.monotonic()
        return condition()

    try:
        return wait_until(done, bound, what, lambda: worker_stop(worker))
    finally:
        worker_stop(worker)


def _unlabelled_pool(org, version: ModelVersion, count: int) -> None:
    """Unlabelled images with the production version's predictions and embeddings, as pre-labelling
    leaves them."""
    rng = np.random.default_rng(0)
    batch = batch_open(organisation=org, uploader=None)
    classes = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    for index in range(count):
        if index % 2 == 0:  # sequences of two frames
            sequence = Sequence.objects.create(organisation=org, batch=batch)
        image = Image.objects.create(
            organisation=org,
            batch=batch,
            sequence=sequence,
            file=f"fake/{index}.jpg",
            original_name=f"{index}.jpg",
            sha256=f"{index:064x}",
            bytes=1,
            width=1,
            height=1,
        )
        logits = rng.normal(size=len(classes))
        top = np.argsort(-logits)[:3]
        Prediction.objects.create(
            image=image,
            version=version,
            category="animal",
            taxon_id=classes[top[0]],
            score=0.5,
            top=[[classes[c], 0.3] for c in top],
            logits=logits.astype(np.float16).tobytes(),
        )
        vector = rng.normal(size=1280)
        Embedding.objects.create(
            image=image,
            backbone_key=version.backbone_key,
            vector=(vector / np.linalg.norm(vector)).astype(np.float16).tobytes(),
        )


def test_a_selection_job_killed_before_writing_its_tasks_resumes_and_writes_them_once(
    settings, org
):
    version = default_version_ensure()
    _unlabelled_pool(org, version, 60)
    batch = selection_batch_request(user=None, size=20)
    _killed_at(settings, "selection.picked")
    assert SelectionBatch.objects.get(pk=batch.pk).status == "running"
    assert not ReviewTask.objects.exists(), (
        "the tasks are written with the batch's end, in one transaction"
    )
    _resumed(
        settings,
        lambda: SelectionBatch.objects.get(pk=batch.pk).status == "done",
        "a restarted worker finishes the selection",
    )
    tasks = ReviewTask.objects.filter(origin=f"selection:{batch.pk}")
    assert tasks.count() == 20 == tasks.values("sequence").distinct().count()


def test_a_release_killed_between_moving_its_folder_and_recording_it_is_published_once(settings):
    request = release_request(version=default_version_ensure(), semver="1.0.0", user=None)
    _killed_at(settings, "release.moved")
    assert not Release.objects.exists(), "the row was not committed"
    assert ReleaseRequest.objects.get(pk=request.pk).status == "running"
    _resumed(
        settings,
        lambda: ReleaseRequest.objects.get(pk=request.pk).status == "done",
        "a restarted worker publishes the release",
    )
    release = Release.objects.get()
    folder = releases_dir() / "1.0.0"
    assert sorted(path.name for path in folder.iterdir()) == sorted([*release.files, "SHA256SUMS"])
    assert not list(releases_dir().glob(".1.0.0.*.partial")), "no staging folder left behind"


def test_a_round_killed_while_registering_registers_nothing_and_fails_cleanly(settings, org):
    parent = default_version_ensure()
    labelled_pool(org, parent, {"roe-deer": 30, "wild-boar": 30, "fox": 30})
    training_round = training_round_start(user=None, params={"min_labels": 5, "epochs": 5})
    _killed_at(settings, "round.registered")
    assert ModelVersion.objects.count() == 1, "the killed transaction registered nothing"
    settings.FAUNE = {
        **settings.FAUNE,
        "ROUND_STALE_MINUTES": 0,
    }  # the sweep's patience, spent at once here
    sweep_all()
    training_round.refresh_from_db()
    assert training_round.status == "failed" and "the worker stopped" in training_round.log
    assert not TrainingRound.objects.filter(status="running").exists()
    assert ModelVersion.objects.count() == 1
    training_round_start(
        user=None, params={"min_labels": 5}, queue=False
    )  # the next round is not blocked


@pytest.mark.skipif(
    "sqlite" not in django_settings.DATABASES["default"]["ENGINE"], reason="SQLite's own locking"
)
def test_sqlite_takes_ten_concurrent_writers_without_a_locked_database(org, partner):
    """Ten people labelling at once for several seconds: every label is answered and stored, none
    meets 'database is locked' (WAL and a busy timeout make writers wait their turn instead)."""
    batch = batch_open(organisation=org, uploader=partner)
    sequence = Sequence.objects.create(organisation=org, batch=batch)
    images = [
        Image.objects.create(
            organisation=org,
            batch=batch,
            sequence=sequence,
            file=f"fake/{i}.jpg",
            original_name=f"{i}.jpg",
            sha256=f"{i:064x}",
            bytes=1,
            width=1,
            height=1,
        )
        for i in range(20)
    ]
    answers, errors = [], []

    def writer(seed: int) -> None:
        client, deadline = client_for(partner), time.monotonic() + 8
        try:
            while time.monotonic() < deadline:
                image = images[(seed * 7 + len(answers)) % len(images)]
                taxon = ("fox", "badger", "roe-deer")[seed % 3]
                answers.append(
                    client.post(
                        f"/api/images/{image.pk}/annotations/", {"taxon": taxon}, format="json"
                    ).status_code
                )
        # what a person would have met, collected for the assertion
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert answers and set(answers) == {201}
    assert Annotation.objects.count() == len(answers), "every answered label is stored"
