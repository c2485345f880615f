"""Background jobs of the inference app. They take ids, re-fetch, and skip what is already done, so a job
killed halfway is simply run again."""
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import Image
from inference.models import ModelVersion, PrelabelRun, RunStatus, VersionStatus
from inference.selectors import production_version

logger = logging.getLogger(__name__)


def queue_prelabel_all(version: ModelVersion) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("inference.tasks.prelabel_all", version.pk,
                                             task_name=f"prelabel-all-{version.pk}"))


def _pending(version: ModelVersion, images) -> list[int]:
    """Images without a prediction of this version, newest uploads first."""
    return list(images.exclude(predictions__version=version).order_by("-created_at", "-pk")
                .values_list("pk", flat=True))


def _run(version: ModelVersion, image_ids: list[int], batch_id: int | None) -> PrelabelRun:
    from inference.services.prelabel import prelabel_images, sequence_predictions_refresh

    run = PrelabelRun.objects.create(version=version, batch_id=batch_id, total=len(image_ids),
                                     status=RunStatus.RUNNING)
    try:
        prelabel_images(version=version, image_ids=image_ids, batch_size=settings.FAUNE["PRELABEL_BATCH_SIZE"],
                        on_progress=lambda done: PrelabelRun.objects.filter(pk=run.pk).update(done=done))
        sequences = Image.objects.filter(pk__in=image_ids).values_list("sequence_id", flat=True).distinct()
        sequence_predictions_refresh(version=version, sequence_ids=list(sequences))
    except Exception as error:
        PrelabelRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}",
                                                     finished_at=timezone.now())
        raise
    PrelabelRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, done=len(image_ids),
                                                 finished_at=timezone.now())
    return run


def prelabel_batch(batch_id: int) -> None:
    version = production_version()
    if version is None:
        logger.info("no production model: batch %s is not pre-labelled", batch_id)
        return
    pending = _pending(version, Image.objects.filter(batch_id=batch_id))
    if pending:
        _run(version, pending, batch_id)


def prelabel_all(version_id: int, chunk: int = 2000) -> None:
    """After a production change: every image without a prediction of this version, newest first, in chunks so
    progress shows and a newer promotion stops this one. Images uploaded meanwhile get their batch's own job."""
    version = ModelVersion.objects.get(pk=version_id)
    pending = _pending(version, Image.objects.all())
    for start in range(0, len(pending), chunk):
        if not ModelVersion.objects.filter(pk=version_id, status=VersionStatus.PRODUCTION).exists():
            logger.info("version %s is no longer in production; re-prediction stops", version_id)
            return
        _run(version, pending[start:start + chunk], None)
    _refresh_queues(version)


def _refresh_queues(version: ModelVersion) -> None:
    from inference.services.selection import review_queues_refresh

    moved = review_queues_refresh(version=version)
    logger.info("version %s: %s review tasks moved to the queue of their new prediction", version.pk, moved)


def selection_batch_run(batch_id: int) -> None:
    from inference.services.selection import selection_batch_run as run

    run(batch_id)


def partner_labels_route(annotation_ids: list[int]) -> None:
    """Queued by the labelled pool for new partner labels: send doubtful corrections to an expert."""
    from inference.services.corrections import partner_corrections_route

    opened = partner_corrections_route(annotation_ids=annotation_ids)
    if opened:
        logger.info("%s partner corrections sent to expert check", opened)
