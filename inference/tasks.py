"""Background jobs of the inference app (see faune_platform/jobs.py for how every job runs). They
take ids, re-fetch, and skip what is already done, so a chunk killed halfway is simply run again."""

import logging
from typing import TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from annotation.models import Image
from faune_platform.db import row_lock
from faune_platform.jobs import (
    ChunkClock,
    JobStatus,
    Resumable,
    job_claim,
    job_continue,
    job_enqueue,
    job_fail,
    job_finish,
    job_heartbeat,
    job_start,
    job_sweep,
)
from inference.models import (
    ExportJob,
    ModelVersion,
    NoveltyScan,
    PrelabelRun,
    SelectionBatch,
    VersionStatus,
)
from inference.selectors import production_version

logger = logging.getLogger(__name__)
CHUNK_TASK = "inference.tasks.prelabel_run_chunk"
PENDING_SLICE = (
    2000  # images looked up at once; a chunk works through slices until its time is spent
)


def _run_for(version: ModelVersion, batch_id: int | None) -> PrelabelRun:
    """The one run of a version over a batch (or the whole pool), looking again from the
    newest image."""
    with transaction.atomic():
        # The version's row is locked while the run is looked for and made: the tasks of two
        # uploads to one batch, at once, would each make a run and predict the same images.
        row_lock(version)
        runs = PrelabelRun.objects.filter(version=version, batch_id=batch_id)
        run = runs.order_by("-pk").first() or runs.create(version=version, batch_id=batch_id)
        PrelabelRun.objects.filter(pk=run.pk).update(cursor=None, error="")
    return run


def prelabel_run_start(*, version: ModelVersion, batch_id: int | None) -> PrelabelRun:
    """Queue the pre-labelling of a batch (or of the whole pool) by `version` when the
    transaction commits."""
    with transaction.atomic():
        run = _run_for(version, batch_id)
        job_enqueue(run, CHUNK_TASK)
    return run


def queue_prelabel_all(version: ModelVersion) -> None:
    """After a production change: the whole pool, newest first, in chunks (queued when the
    promotion commits)."""
    transaction.on_commit(lambda: prelabel_run_start(version=version, batch_id=None))


def _work_here(version: ModelVersion, batch_id: int | None) -> None:
    """Already in a worker: take the run and work its first chunk in this task; later chunks
    are queued."""
    run = _run_for(version, batch_id)
    prelabel_run_chunk(run.pk, job_start(run))


def prelabel_batch(batch_id: int) -> None:
    """Queued by the labelled pool when files of a batch were stored (named in
    settings: AFTER_INGEST_TASKS)."""
    version = production_version()
    if version is None:
        logger.info("no production model: batch %s is not pre-labelled", batch_id)
        return
    _work_here(version, batch_id)


def prelabel_all(version_id: int) -> None:
    _work_here(ModelVersion.objects.get(pk=version_id), None)


def _scope(run: PrelabelRun) -> QuerySet[Image]:
    images = Image.objects.all()
    return images.filter(batch_id=run.batch_id) if run.batch_id else images


def _next_pending(run: PrelabelRun) -> list[int]:
    """The newest images under the run's cursor that this version has not predicted yet."""
    images = _scope(run).exclude(predictions__version_id=run.version_id)
    if run.cursor is not None:
        images = images.filter(pk__lt=run.cursor)
    return list(images.order_by("-pk").values_list("pk", flat=True)[:PENDING_SLICE])


class Progress(TypedDict):
    """A run's counts, as its row stores them (so they go to `job_heartbeat` and `job_finish`
    as fields)."""

    total: int
    done: int


def _progress(run: PrelabelRun) -> Progress:
    scope = _scope(run)
    return {
        "total": scope.count(),
        "done": scope.filter(predictions__version_id=run.version_id).count(),
    }


def prelabel_run_chunk(run_id: int, token: str) -> None:
    """One chunk of a run: slices of pending images, newest first, until the chunk's time is spent;
    then the next chunk is queued, or the run ends (and, for a whole-pool run, review queues follow
    the new version)."""
    run = job_claim(PrelabelRun, run_id, token)
    if run is None:
        return
    if run.version.status != VersionStatus.PRODUCTION:
        job_finish(
            run, status=JobStatus.CANCELLED, error=f"{run.version} is no longer in production"
        )
        return
    try:
        finished = _work(run, ChunkClock.start())
    except Exception as error:
        job_fail(run, error)
        raise
    if not finished:
        job_continue(run, CHUNK_TASK)
        return
    # Queues follow the new version before the run ends, by a run that still owns it: a worker
    # killed in between leaves the run to be resumed, and refreshing again changes nothing.
    if run.batch_id is None and job_heartbeat(run):
        _refresh_queues(run.version)
    job_finish(run, **_progress(run))


def _work(run: PrelabelRun, clock: ChunkClock) -> bool:
    """Work slices until the pool is done (True) or the chunk's time is spent or the run was
    taken over."""
    from inference.services.prelabel import context_for, prelabel_images

    context = context_for(run.version)
    progress = _progress(run)
    job_heartbeat(run, **progress)
    while True:  # at least one slice per chunk, whatever the clock says: every chunk makes progress
        slice_ids = _next_pending(run)
        if not slice_ids:
            return True
        done = prelabel_images(
            context=context,
            image_ids=slice_ids,
            batch_size=settings.FAUNE["PRELABEL_BATCH_SIZE"],
            keep_going=lambda _: not clock.spent and job_heartbeat(run),
        )  # each step stores its predictions with its sequences' verdicts
        # Ids above the cursor are done (or unreadable: skipped for good); below it, still to
        # look at.
        left = set(slice_ids) - set(done)
        run.cursor = (max(left) + 1) if left else min(slice_ids)
        progress["done"] = min(progress["total"], progress["done"] + len(done))
        alive = job_heartbeat(run, cursor=run.cursor, done=progress["done"])
        if clock.spent or not alive:
            return False


def sequence_verdicts_refresh(sequence_ids: list[int]) -> None:
    """Queued by the labelled pool when sequences merged: their verdicts are derived from
    their frames' predictions, so each version that predicted any of their frames aggregates
    them again."""
    from inference.models import Prediction
    from inference.services.prelabel import sequence_predictions_refresh, verdict_context

    versions = ModelVersion.objects.filter(
        pk__in=Prediction.objects.filter(image__sequence_id__in=sequence_ids).values("version_id")
    )
    for version in versions:
        sequence_predictions_refresh(context=verdict_context(version), sequence_ids=sequence_ids)


def _refresh_queues(version: ModelVersion) -> None:
    from inference.services.selection import review_queues_refresh

    moved = review_queues_refresh(version=version)
    logger.info(
        "version %s: %s review tasks moved to the queue of their new prediction", version.pk, moved
    )


def selection_batch_run(batch_id: int, token: str) -> None:
    from inference.services.selection import selection_batch_run as run

    run(batch_id, token=token)


def jobs_sweep() -> tuple[int, int]:
    """Resume the pre-label, selection, novelty and export jobs whose worker
    stopped (faune_platform.jobs.job_sweep)."""
    stale_s = settings.FAUNE["JOB_STALE_S"]
    kinds = (
        Resumable(PrelabelRun, CHUNK_TASK),
        Resumable(SelectionBatch, "inference.tasks.selection_batch_run"),
        Resumable(NoveltyScan, "inference.tasks.novelty_scan_run"),
        Resumable(ExportJob, "inference.tasks.export_run"),
    )
    swept = [job_sweep(kind, stale_s=stale_s) for kind in kinds]
    return sum(resumed for resumed, _ in swept), sum(failed for _, failed in swept)


def partner_labels_route(annotation_ids: list[int]) -> None:
    """Queued by the labelled pool for new partner labels: send doubtful corrections to
    an expert."""
    from inference.services.corrections import partner_corrections_route

    opened = partner_corrections_route(annotation_ids=annotation_ids)
    if opened:
        logger.info("%s partner corrections sent to expert check", opened)


def novelty_scan_run(scan_id: int, token: str) -> None:
    from inference.services.novelty import novelty_scan_run as run

    run(scan_id, token=token)


def export_run(job_id: int, token: str) -> None:
    from inference.services.exports.jobs import export_run as run

    run(job_id, token=token)
