"""Background jobs of the labelled pool (see faune_platform/jobs.py for how every job runs). Each
takes ids, claims its work, and can be run again after a crash without duplicating anything."""

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max, ProtectedError
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from annotation.ingest.plans import LayoutError
from annotation.models import BatchKind, BatchStatus, Deployment, UploadBatch
from annotation.services.batches import batch_announce
from annotation.services.imports import import_prepare_mapped, import_run
from annotation.services.ingest import remove_staged
from faune_platform.jobs import (
    ChunkClock,
    Resumable,
    job_claim,
    job_continue,
    job_enqueue,
    job_fail,
    job_finish,
    job_heartbeat,
    job_sweep,
)
from faune_platform.responses import message_of

logger = logging.getLogger(__name__)
IMPORT_TASK = "annotation.tasks.import_batch_run"


def import_folder(batch_id: int) -> Path:
    return Path(settings.IMPORTS_DIR) / str(batch_id)


def queue_import(batch: UploadBatch) -> None:
    job_enqueue(batch, IMPORT_TASK)


def import_batch_run(batch_id: int, token: str) -> None:
    """One chunk of an import: files not reported yet, until the chunk's time is spent; then the
    next chunk is queued, or the import ends, its images are announced for pre-labelling and its
    staged folder removed."""
    batch = job_claim(UploadBatch, batch_id, token)
    if batch is None:
        logger.info("import batch %s is not waiting for this task; nothing to do", batch_id)
        return
    # the report's reasons in the language of the person who sent the archive
    with translation.override(batch.params.get("language") or settings.LANGUAGE_CODE):
        _run_chunk(batch)


def _run_chunk(batch: UploadBatch) -> None:
    clock = ChunkClock.start()
    try:
        finished = _work(batch, clock)
    except (LayoutError, ValidationError) as error:
        _give_up(batch, " ".join(getattr(error, "messages", [message_of(error)])))
        return
    except Exception as error:
        _give_up(batch, error)
        raise
    if not finished:
        job_continue(batch, IMPORT_TASK)
        return
    if job_finish(batch):  # else another task owns the import now, and its files
        _tidy(batch)


def _work(batch: UploadBatch, clock: ChunkClock) -> bool:
    """Import files until done (True) or the chunk's time is spent, or another task took the
    batch over."""
    params = batch.params
    prepared = import_prepare_mapped(batch=batch, root=import_folder(batch.pk))
    job_heartbeat(batch, total=len(prepared.plan.files) + params.get("unpack_rejected", 0))
    stopped, asked = [], []

    def keep_going() -> bool:
        asked.append(
            True
        )  # the first file of a chunk is always imported: every chunk makes progress
        go_on = len(asked) == 1 or (not clock.spent and job_heartbeat(batch))
        if not go_on:
            stopped.append(True)
        return go_on

    import_run(batch=batch, prepared=prepared, maxlag_s=params.get("maxlag"), keep_going=keep_going)
    return not stopped


def _give_up(batch: UploadBatch, error: BaseException | str) -> None:
    """A failed import leaves nothing half-made behind (what it did import stays, with
    its report). A task that no longer owns the import leaves it to the one that does."""
    if job_fail(batch, error):
        _tidy(batch)


def _tidy(batch: UploadBatch) -> None:
    """After an import, done or failed: its staged files go, so do the cameras it created that hold
    nothing (all their files were refused), and what it imported is announced for pre-labelling."""
    remove_staged(import_folder(batch.pk))
    for deployment in Deployment.objects.filter(pk__in=batch.params.get("created_deployments", [])):
        try:
            deployment.delete()
        except ProtectedError:
            continue  # it holds images: keep it
    batch_announce(batch)


# Batches nobody finished: an upload whose page was closed before "Done", an import whose classes
# were never mapped.
UPLOAD_IDLE_CLOSE_H = 24
UNMAPPED_IMPORT_KEPT_H = 72


def jobs_sweep() -> tuple[int, int]:
    """Resume the imports whose worker stopped (see faune_platform.jobs.job_sweep); close the
    uploads nobody said Done to, and drop the imports nobody mapped."""
    batches_left_open_tidy()
    return job_sweep(Resumable(UploadBatch, IMPORT_TASK), stale_s=settings.FAUNE["JOB_STALE_S"])


def batches_left_open_tidy() -> tuple[int, int]:
    """Close the uploads that took no file for a day; drop the imports that waited three days
    for their class mapping (nothing of them was stored) with their unpacked files. Returns
    (closed, dropped)."""
    now = timezone.now()
    idle = (
        UploadBatch.objects.filter(kind=BatchKind.UPLOAD, status=BatchStatus.OPEN)
        .annotate(last=Coalesce(Max("items__created_at"), "created_at"))
        .filter(last__lt=now - timedelta(hours=UPLOAD_IDLE_CLOSE_H))
    )
    closed = UploadBatch.objects.filter(
        pk__in=list(idle.values_list("pk", flat=True)), status=BatchStatus.OPEN
    ).update(status=BatchStatus.DONE, finished_at=now)
    stale = UploadBatch.objects.filter(
        kind=BatchKind.IMPORT,
        status=BatchStatus.OPEN,
        created_at__lt=now - timedelta(hours=UNMAPPED_IMPORT_KEPT_H),
    )
    dropped = 0
    for batch_id in list(stale.values_list("pk", flat=True)):
        # one by one, still open: a mapping submitted meanwhile keeps its batch and its files
        if UploadBatch.objects.filter(pk=batch_id, status=BatchStatus.OPEN).delete()[0]:
            remove_staged(import_folder(batch_id))
            dropped += 1
    return closed, dropped
