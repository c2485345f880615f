"""Background jobs of the labelled pool. Each takes ids, claims its work with a conditional update, and can be
run again after a crash without duplicating anything."""
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotation.ingest.layouts import LayoutError
from annotation.models import BatchStatus, UploadBatch
from annotation.services.batches import batch_announce, batch_finish
from annotation.services.imports import UnknownClasses, import_prepare, import_run
from annotation.services.ingest import remove_staged

logger = logging.getLogger(__name__)


def import_folder(batch_id: int) -> Path:
    return Path(settings.IMPORTS_DIR) / str(batch_id)


def queue_import(batch: UploadBatch) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("annotation.tasks.import_batch_run", batch.pk,
                                             task_name=f"import-batch-{batch.pk}"))


def import_batch_run(batch_id: int) -> None:
    claimed = UploadBatch.objects.filter(pk=batch_id, status__in=[BatchStatus.QUEUED, BatchStatus.RUNNING]).update(
        status=BatchStatus.RUNNING)
    if not claimed:
        logger.info("import batch %s is not waiting to run; nothing to do", batch_id)
        return
    batch = UploadBatch.objects.select_related("organisation", "uploader").get(pk=batch_id)
    params = batch.params
    try:
        prepared = import_prepare(root=import_folder(batch_id), fmt=params.get("format", "auto"),
                                  deployment_name=params.get("deployment") or None,
                                  create_taxa=params.get("create_taxa", False), user=batch.uploader)
        UploadBatch.objects.filter(pk=batch_id).update(total=len(prepared.plan.files))
        import_run(batch=batch, prepared=prepared, maxlag_s=params.get("maxlag"))
    except (LayoutError, UnknownClasses) as error:
        batch_finish(batch=batch, status=BatchStatus.FAILED, error=str(error))
    except Exception as error:
        batch_finish(batch=batch, status=BatchStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    else:
        batch_finish(batch=batch, status=BatchStatus.DONE)
        batch_announce(batch)
    remove_staged(import_folder(batch_id))
