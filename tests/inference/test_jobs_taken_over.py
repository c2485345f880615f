"""Jobs whose worker is killed, or so slow that the sweep gives the job to another: no work lost,
none done twice."""

import threading
import time

import pytest
from django.utils import timezone

from annotation.models import ReviewTask
from faune_platform.jobs import Resumable, job_sweep
from inference.models import PrelabelRun, SelectionBatch, SequencePrediction
from inference.services import selection as selection_module
from inference.services.selection import selection_batch_request
from inference.tasks import jobs_sweep, prelabel_batch
from tests.inference.test_prelabel import burst_and_one, post
from tests.inference.test_selection_batches import pool  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _stale():
    return timezone.now() - timezone.timedelta(hours=1)


def test_a_selection_taken_over_by_the_sweep_writes_its_tasks_once(
    pool,  # noqa: F811
    coordinator,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Worker A is slow picking: the sweep gives the batch to B (a new token). A, finding it no
    longer owns the batch, records nothing; B picks and writes the tasks, once."""
    with django_capture_on_commit_callbacks() as queued:
        batch = selection_batch_request(user=coordinator, size=5)
    second_worker = []
    real = selection_module.failpoint

    def slow(name):
        real(name)
        if second_worker:
            return
        SelectionBatch.objects.filter(pk=batch.pk).update(heartbeat_at=_stale())
        with django_capture_on_commit_callbacks() as requeued:  # B's task, run later
            assert job_sweep(
                Resumable(SelectionBatch, "inference.tasks.selection_batch_run"), stale_s=180
            ) == (1, 0)
        second_worker.extend(requeued)

    monkeypatch.setattr(selection_module, "failpoint", slow)
    for callback in queued:  # worker A
        callback()
    for callback in second_worker:  # worker B
        callback()
    batch.refresh_from_db()
    assert batch.status == "done"
    assert ReviewTask.objects.filter(origin=f"selection:{batch.pk}").count() == 5


class Killed(BaseException):
    """SIGKILL: no except clause runs."""


def test_a_worker_killed_while_storing_predictions_loses_no_verdict(
    api, zero_shot, monkeypatch, django_capture_on_commit_callbacks
):
    # no commit callbacks run: nothing pre-labelled yet
    response = post(api, *burst_and_one((96, 72)), deployment_name="Cam")
    batch = response.json()["batch"]
    import inference.services.prelabel as prelabel

    real = prelabel.sequence_predictions_refresh

    def killed(**kwargs):
        raise Killed

    monkeypatch.setattr(prelabel, "sequence_predictions_refresh", killed)
    with pytest.raises(Killed):
        prelabel_batch(batch)  # the worker dies as it stores a step
    monkeypatch.setattr(prelabel, "sequence_predictions_refresh", real)
    run = PrelabelRun.objects.get()
    assert run.status == "running"
    PrelabelRun.objects.filter(pk=run.pk).update(heartbeat_at=_stale())
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == (1, 0)  # the sweep resumes it, inline
    run.refresh_from_db()
    assert run.status == "done"
    assert SequencePrediction.objects.count() == 2  # the resumed run wrote every verdict


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("seeded_taxa")  # a transactional test starts from empty tables
def test_an_export_taken_over_mid_slice_ends_with_each_row_once(
    org, other_org, partner, other_partner, monkeypatch, django_capture_on_commit_callbacks
):
    """Worker A is slow inside a slice; the sweep gives the job to B, which waits for A's files
    before it rewinds them: A's late slice is cut, B writes every row once."""
    from django.db import connection

    from faune_platform.jobs import job_claim, job_start
    from inference.models import ExportJob
    from inference.services.exports import jobs as export_jobs
    from inference.services.exports.jobs import export_folder, export_request, export_work
    from inference.services.exports.scope import ExportOptions, ExportScope
    from tests.exports_pool import build_pool

    exported = build_pool(org, other_org, partner, other_partner)
    monkeypatch.setattr(export_jobs, "SLICE", 1)
    job = export_request(
        user=None,
        fmt="deepfaune_csv",
        scope=ExportScope(organisation=exported.org.pk),
        options=ExportOptions(media=False),
        enqueue=False,
    )
    in_slice, slow_writer = threading.Event(), []
    real_writer_for = export_jobs.writer_for

    def writer_for(*args, **kwargs):
        writer = real_writer_for(*args, **kwargs)
        if slow_writer:  # B's writer: as it is
            return writer
        slow_writer.append(writer)
        real_write = writer.write

        def write(part, summary):  # A's: its second slice is slow, past the heartbeat's limit
            if summary.data["frames"] >= 1 and not in_slice.is_set():
                ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=_stale())
                in_slice.set()
                time.sleep(1.0)  # meanwhile B is given the job and waits for the files
            real_write(part, summary)

        writer.write = write
        return writer

    monkeypatch.setattr(export_jobs, "writer_for", writer_for)
    outcome = []

    def worker_a() -> None:
        try:
            claimed = job_claim(ExportJob, job.pk, job_start(job))
            outcome.append(export_work(claimed, clock=None))
        finally:
            connection.close()

    first = threading.Thread(target=worker_a)
    first.start()
    assert in_slice.wait(timeout=60)
    with django_capture_on_commit_callbacks(execute=True):  # B, here
        assert jobs_sweep() == (1, 0)
    first.join(timeout=60)
    assert outcome == [False]  # A learnt at its checkpoint that the job was no longer its own
    job.refresh_from_db()
    assert job.status == "done" and job.done == 7
    lines = (export_folder(job) / "deepfaune.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 7, lines
