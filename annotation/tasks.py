"""Background jobs of the labelled pool (see faune_platform/jobs.py for how every job runs). Each takes ids,
claims its work, and can be run again after a crash without duplicating anything."""
import logging
from pathlib import Path

from django.conf import settings
from django.db.models import ProtectedError

from annotation.ingest.layouts import LayoutError
from annotation.models import Deployment, UploadBatch
from annotation.services.batches import batch_announce
from annotation.services.imports import UnknownClasses, import_prepare, import_run
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

logger = logging.getLogger(__name__)
IMPORT_TASK = "annotation.tasks.import_batch_run"


def import_folder(batch_id: int) -> Path:
    return Path(settings.IMPORTS_DIR) / str(batch_id)


def queue_import(batch: UploadBatch) -> None:
    job_enqueue(batch, IMPORT_TASK)


def import_batch_run(batch_id: int, token: str) -> None:
    """One chunk of an import: files not reported yet, until the chunk's time is spent; then the next chunk is
    queued, or the import ends, its images are announced for pre-labelling and its staged folder removed."""
    batch = job_claim(UploadBatch, batch_id, token)
    if batch is None:
        logger.info("import batch %s is not waiting for this task; nothing to do", batch_id)
        return
    clock = ChunkClock.start()
    try:
        finished = _work(batch, clock)
    except (LayoutError, UnknownClasses) as error:
        _give_up(batch, str(error))
        return
    except Exception as error:
        _give_up(batch, error)
        raise
    if not finished:
        job_continue(batch, IMPORT_TASK)
        return
    job_finish(batch)
    _tidy(batch)


def _work(batch: UploadBatch, clock: ChunkClock) -> bool:
    """Import files until done (True) or the chunk's time is spent, or another task took the batch over."""
    params = batch.params
    prepared = import_prepare(root=import_folder(batch.pk), fmt=params.get("format", "auto"),
                              deployment_name=params.get("deployment") or None,
                              create_taxa=params.get("create_taxa", False), user=batch.uploader)
    job_heartbeat(batch, total=len(prepared.plan.files))
    stopped, asked = [], []

    def keep_going() -> bool:
        asked.append(True)  # the first file of a chunk is always imported: every chunk makes progress
        go_on = len(asked) == 1 or (not clock.spent and job_heartbeat(batch))
        if not go_on:
            stopped.append(True)
        return go_on

    import_run(batch=batch, prepared=prepared, maxlag_s=params.get("maxlag"), keep_going=keep_going)
    return not stopped


def _give_up(batch: UploadBatch, error: BaseException | str) -> None:
    """A failed import leaves nothing half-made behind (what it did import stays, with its report)."""
    job_fail(batch, error)
    _tidy(batch)


def _tidy(batch: UploadBatch) -> None:
    """After an import, done or failed: its staged files go, so do the cameras it created that hold nothing (all
    their files were refused), and what it imported is announced for pre-labelling."""
    remove_staged(import_folder(batch.pk))
    for deployment in Deployment.objects.filter(pk__in=batch.params.get("created_deployments", [])):
        try:
            deployment.delete()
        except ProtectedError:
            continue  # it holds images: keep it
    batch_announce(batch)


def jobs_sweep() -> tuple[int, int]:
    """Resume the imports whose worker stopped (see faune_platform.jobs.job_sweep)."""
    return job_sweep(Resumable(UploadBatch, IMPORT_TASK), stale_s=settings.FAUNE["JOB_STALE_S"])
