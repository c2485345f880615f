"""Imports sent through the web page or the API: a zip is unpacked and checked now, then imported by a job.

Unpacking happens before any write transaction (on SQLite a write transaction holds the database lock, and an
archive of thousands of photographs takes a while); only recording the batch and queueing the job is one short
transaction."""
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext

from annotation.ingest.archive import ArchiveRejected, EntryRejection, extract_zip
from annotation.models import BatchItem, BatchKind, BatchOutcome, Deployment, Organisation, UploadBatch
from annotation.permissions import user_access
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
    """Unpack and check an import now (bad zip, unknown classes: refused at once, nothing recorded); record the
    batch and queue the import itself. Call outside any transaction."""
    if create_taxa and not user_access(user).coordinator:
        raise PermissionDenied("Only coordinators can create taxa; ask one, or rename the class folders.")
    params = {"format": fmt, "create_taxa": create_taxa, "maxlag": maxlag_s,
              "deployment": deployment.name if deployment else ""}
    unpacked = staging_dir() / f"{uuid.uuid4().hex}.d"
    try:
        rejections = _unpack(archive, unpacked)
        if not unpacked.is_dir() or not any(unpacked.iterdir()):  # nothing to import, nothing to record
            raise ArchiveRejected(gettext("The archive holds no file that can be imported."))
        planned = 0 if create_taxa else len(import_prepare(
            root=unpacked, fmt=fmt, deployment_name=params["deployment"] or None, create_taxa=False).plan.files)
        return _record(unpacked, rejections, planned, organisation=organisation, deployment=deployment, uploader=user,
                       source_name=archive.name or "archive.zip", params=params)
    finally:
        remove_staged(unpacked)  # gone already when the batch took it


@transaction.atomic
def _record(unpacked: Path, rejections: list[EntryRejection], planned: int, **batch_fields: object) -> UploadBatch:
    batch = batch_open(kind=BatchKind.IMPORT, **batch_fields)
    BatchItem.objects.bulk_create(BatchItem(batch=batch, name=r.name[:500], outcome=BatchOutcome.REJECTED,
                                            reason=r.reason) for r in rejections)
    UploadBatch.objects.filter(pk=batch.pk).update(total=planned)
    folder = import_folder(batch.pk)
    folder.parent.mkdir(parents=True, exist_ok=True)
    unpacked.rename(folder)
    try:
        queue_import(batch)
    except BaseException:
        folder.rename(unpacked)  # the transaction rolls back: the folder goes back to staging, then away
        raise
    return batch


def _unpack(archive: UploadedFile, folder: Path) -> list[EntryRejection]:
    staged = staging_dir() / f"{uuid.uuid4().hex}.zip"
    try:
        stage_upload(archive, staged)
        return extract_zip(staged, folder, max_total_bytes=settings.FAUNE["MAX_ZIP_UNCOMPRESSED_BYTES"],
                           max_ratio=settings.FAUNE["MAX_ZIP_RATIO"])
    finally:
        remove_staged(staged)
