"""Upload batches: open one, feed it files (or zips of a card's folder), close it."""

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.ingest.archive import ArchiveRejected, extract_zip
from annotation.models import (
    BatchItem,
    BatchKind,
    BatchOutcome,
    BatchStatus,
    Deployment,
    Organisation,
    UploadBatch,
)
from annotation.services.ingest import (
    image_ingest_reported,
    remove_staged,
    stage_upload,
    staging_dir,
)
from faune_platform.errors import StateConflict, TooLarge
from faune_platform.jobs import task_enqueue_on_commit
from faune_platform.responses import message_of, translated


class UploadTooLarge(TooLarge):
    pass


class BatchNotAnUpload(StateConflict):
    pass


def batch_open(
    *,
    organisation: Organisation,
    uploader: User | None,
    deployment: Deployment | None = None,
    kind: str = BatchKind.UPLOAD,
    source_name: str = "",
    params: dict[str, Any] | None = None,
) -> UploadBatch:
    return UploadBatch.objects.create(
        organisation=organisation,
        uploader=uploader,
        deployment=deployment,
        kind=kind,
        source_name=source_name[:255],
        params=params or {},
    )


def batch_announce(batch: UploadBatch) -> None:
    """Queue the jobs that consume new images (pre-labelling), by dotted path, once the files
    are committed."""
    for task in settings.FAUNE["AFTER_INGEST_TASKS"]:
        task_enqueue_on_commit(task, batch.pk, name=f"{task}-{batch.pk}")


def batch_finish(
    *, batch: UploadBatch, status: str = BatchStatus.DONE, error: str = ""
) -> UploadBatch:
    batch.status, batch.error, batch.finished_at = status, error[:5000], timezone.now()
    batch.save(update_fields=["status", "error", "finished_at"])
    return batch


def batch_close(*, batch: UploadBatch) -> UploadBatch:
    """The uploader said Done: the upload takes no more files and its storing phase is over (its
    pre-labelling may go on). Closing a closed upload changes nothing."""
    if batch.kind != BatchKind.UPLOAD:
        raise BatchNotAnUpload(_("Only an upload is closed with Done; an import ends by itself."))
    UploadBatch.objects.filter(pk=batch.pk, status=BatchStatus.OPEN).update(
        status=BatchStatus.DONE, finished_at=timezone.now()
    )
    batch.refresh_from_db()
    return batch


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _stage(upload: "UploadedFile[bytes]", target: Path) -> str:
    limit = settings.FAUNE["MAX_UPLOAD_BYTES"]
    if upload.size is not None and upload.size > limit:
        raise UploadTooLarge(
            _("the file is %(size)s bytes, over the %(limit)s byte limit")
            % {"size": f"{upload.size:,}", "limit": f"{limit:,}"}
        )
    return stage_upload(upload, destination=target)


def batch_add_uploads(
    *, batch: UploadBatch, uploads: Iterable["UploadedFile[bytes]"]
) -> list[BatchItem]:
    """Ingest each uploaded file; a zip is unpacked safely and each of its entries ingested.
    One file that fails never keeps the others out, and whatever entered the pool is announced."""
    items: list[BatchItem] = []
    try:
        for upload in uploads:
            items += _add_upload(batch, upload)
    finally:
        # Even when a file raised past the per-file net, the images already committed must
        # be pre-labelled.
        if any(item.outcome == BatchOutcome.IMPORTED for item in items):
            batch_announce(batch)
    return items


def _add_upload(batch: UploadBatch, upload: "UploadedFile[bytes]") -> list[BatchItem]:
    name = Path(upload.name or "unnamed").name
    staged = staging_dir() / uuid.uuid4().hex
    try:
        sha = _stage(upload, staged)
        if _is_zip(staged):
            return _add_zip(batch, staged, name)
        return [_ingest_one(batch, staged, name, sha256=sha)]
    except (UploadTooLarge, ArchiveRejected) as error:
        return [_rejected(batch, name, message_of(error))]
    finally:
        remove_staged(staged)


def _ingest_one(
    batch: UploadBatch, path: Path, name: str, *, sha256: str | None = None
) -> BatchItem:
    return image_ingest_reported(
        path=path, name=name, batch=batch, deployment=batch.deployment, sha256=sha256
    )


def _rejected(batch: UploadBatch, name: str, reason: str) -> BatchItem:
    return BatchItem.objects.create(
        batch=batch, name=name[:500], outcome=BatchOutcome.REJECTED, reason=reason[:500]
    )


def _add_zip(batch: UploadBatch, archive: Path, zip_name: str) -> list[BatchItem]:
    folder = archive.with_suffix(".d")
    try:
        rejections = extract_zip(
            archive,
            folder,
            max_total_bytes=settings.FAUNE["MAX_ZIP_UNCOMPRESSED_BYTES"],
            max_ratio=settings.FAUNE["MAX_ZIP_RATIO"],
        )
        items = [_rejected(batch, f"{zip_name}/{r.name}", translated(r.reason)) for r in rejections]
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            items.append(
                _ingest_one(batch, path, f"{zip_name}/{path.relative_to(folder).as_posix()}")
            )
        return items
    finally:
        remove_staged(folder)
