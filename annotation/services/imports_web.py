"""Imports sent through the web page or the API: a zip is unpacked and checked now, then imported by a job."""
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile

from annotation.ingest.archive import extract_zip
from annotation.models import BatchItem, BatchKind, BatchOutcome, BatchStatus, Deployment, Organisation, UploadBatch
from annotation.selectors import user_access
from annotation.services.batches import batch_open
from annotation.services.imports import import_prepare
from annotation.services.ingest import remove_staged, stage_upload, staging_dir
from annotation.tasks import import_folder, queue_import


def import_archive_accept(
    *,
    archive: UploadedFile,
    organisation: Organisation,
    deployment: Deployment | None,
    user: User,
    fmt: str,
    create_taxa: bool,
    maxlag_s: float | None,
) -> UploadBatch:
    """Unpack and check an import now (bad zip, unknown classes: refused at once); queue the import itself.
    Call inside a transaction: the job is queued when it commits."""
    if create_taxa and not user_access(user).coordinator:
        raise PermissionDenied("Only coordinators can create taxa; ask one, or rename the class folders.")
    params = {"format": fmt, "create_taxa": create_taxa, "maxlag": maxlag_s,
              "deployment": deployment.name if deployment else ""}
    batch = batch_open(organisation=organisation, uploader=user, deployment=deployment, kind=BatchKind.IMPORT,
                       source_name=archive.name or "archive.zip", params=params)
    folder = import_folder(batch.pk)
    try:
        _unpack(archive, folder, batch)
        prepared = import_prepare(root=folder, fmt=fmt, deployment_name=params["deployment"] or None,
                                  create_taxa=False) if not create_taxa else None
        batch.total = len(prepared.plan.files) if prepared else 0
        batch.status = BatchStatus.QUEUED
        batch.save(update_fields=["total", "status"])
    except BaseException:
        remove_staged(folder)
        raise
    queue_import(batch)
    return batch


def _unpack(archive: UploadedFile, folder, batch: UploadBatch) -> None:
    staged = staging_dir() / f"{uuid.uuid4().hex}.zip"
    try:
        stage_upload(archive, staged)
        rejections = extract_zip(staged, folder, max_total_bytes=settings.FAUNE["MAX_ZIP_UNCOMPRESSED_BYTES"],
                                 max_ratio=settings.FAUNE["MAX_ZIP_RATIO"])
    finally:
        remove_staged(staged)
    BatchItem.objects.bulk_create(BatchItem(batch=batch, name=r.name[:500], outcome=BatchOutcome.REJECTED,
                                            reason=r.reason) for r in rejections)
