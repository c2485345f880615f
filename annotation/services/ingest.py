"""One file into the pool: hash, probe, de-duplicate, store, place in its sequence, label, report.

Either the image row, its stored files, its sequence placement, its labels and its report line all
exist, or none do: stored files are removed when the transaction does not commit.
"""

import datetime as dt
import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotation.ingest.exif import IMPORT_DATE, check_plausible
from annotation.ingest.media import MediaInfo, MediaLimits, MediaRejected, probe
from annotation.models import (
    Annotation,
    BatchItem,
    BatchOutcome,
    Deployment,
    Image,
    LabelSource,
    Role,
    Taxon,
    UploadBatch,
)
from annotation.services.annotations import current_labels_refresh
from annotation.services.sequences import sequence_place
from faune_platform.boxes import Box
from faune_platform.db import unique_or_none
from faune_platform.errors import Worded, gettext_noop
from faune_platform.files import file_sha256
from faune_platform.responses import message_of, translated

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class IngestLabel:
    taxon: Taxon
    box: Box | None = None
    count: int | None = None


@dataclass(frozen=True)
class IngestHints:
    """What an import knows better than the file: labels, a corrected date, a sequence id."""

    labels: tuple[IngestLabel, ...] = ()
    taken_at: dt.datetime | None = None
    sequence_id: str = ""
    label_role: str = Role.PARTNER


def media_limits() -> MediaLimits:
    config = settings.FAUNE
    return MediaLimits(
        max_pixels=config["MAX_IMAGE_PIXELS"],
        thumbnail_size=config["THUMBNAIL_SIZE"],
        earliest_year=config["EARLIEST_PLAUSIBLE_YEAR"],
        now=dt.datetime.now(),  # noqa: DTZ005
    )


def stage_upload(stream: IO[bytes], *, destination: Path) -> str:
    """Copy an uploaded stream to a staging file, hashing on the way; return the sha256."""
    digest = hashlib.sha256()
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as sink:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest()


def _report(
    batch: UploadBatch,
    name: str,
    outcome: str,
    reason: str = "",
    image: Image | None = None,
    labelled: bool = False,
) -> BatchItem:
    return BatchItem.objects.create(
        batch=batch,
        name=name[:500],
        outcome=outcome,
        reason=reason[:500],
        image=image,
        labelled=labelled,
    )


def image_ingest_reported(
    *,
    path: Path,
    name: str,
    batch: UploadBatch,
    deployment: Deployment | None,
    maxlag_s: float | None = None,
    hints: IngestHints = IngestHints(),  # noqa: B008 frozen, so one shared default is safe
    sha256: str | None = None,
) -> BatchItem:
    """`image_ingest`, whose refusals say what is wrong with the file; anything else it raises is
    our bug, not the file's: the file is reported refused (the traceback goes to the log) and the
    upload or import goes on with the next file."""
    try:
        return image_ingest(
            path=path,
            name=name,
            batch=batch,
            deployment=deployment,
            maxlag_s=maxlag_s,
            hints=hints,
            sha256=sha256,
        )
    except Exception:
        logger.exception("ingesting %r into batch %s failed", name, batch.pk)
        return _report(
            batch,
            name,
            BatchOutcome.REJECTED,
            _(
                "the file could not be stored because of an internal error; it was logged, and "
                "the other files went on"
            ),
        )


def image_ingest(
    *,
    path: Path,
    name: str,
    batch: UploadBatch,
    deployment: Deployment | None,
    maxlag_s: float | None = None,
    hints: IngestHints = IngestHints(),  # noqa: B008 frozen, so one shared default is safe
    sha256: str | None = None,
) -> BatchItem:
    """Bring one file into the pool and return its report line (imported, duplicate or rejected)."""
    sha256 = sha256 or file_sha256(path)
    existing = Image.objects.filter(organisation_id=batch.organisation_id, sha256=sha256).first()
    if existing is not None:
        return _duplicate(batch, name, existing, hints)
    try:
        info = probe(path, media_limits())
    except MediaRejected as rejection:
        # in the uploader's language: the request's, or the default in a worker
        return _report(batch, name, BatchOutcome.REJECTED, message_of(rejection))
    stored = _store_files(path, sha256, batch.organisation_id, info)
    try:
        with transaction.atomic():
            image = _create_image(
                path, name, batch, deployment, info, sha256, stored, maxlag_s, hints
            )
            return _report(
                batch, name, BatchOutcome.IMPORTED, image.date_note, image, bool(hints.labels)
            )
    except IntegrityError:
        # The same bytes arrived concurrently and the other upload won: ours becomes the duplicate.
        _delete_files(stored)
        existing = Image.objects.filter(
            organisation_id=batch.organisation_id, sha256=sha256
        ).first()
        if existing is None:
            raise
        return _duplicate(batch, name, existing, hints)
    except BaseException:
        _delete_files(stored)
        raise


def _duplicate(batch: UploadBatch, name: str, existing: Image, hints: IngestHints) -> BatchItem:
    """Same bytes again: keep the first image, but never drop labels the second copy brings."""
    with transaction.atomic():
        added = _add_labels(existing, batch, hints, skip_known=True)
        values = {"name": existing.original_name, "id": existing.pk, "n": added}
        reason = _("same bytes as '%(name)s' (image #%(id)s), already in the pool") % values
        if added:
            with_labels = ngettext(
                "same bytes as '%(name)s' (image #%(id)s), already in the pool; its %(n)d new "
                "label was added to that image",
                "same bytes as '%(name)s' (image #%(id)s), already in the pool; its %(n)d new "
                "labels were added to that image",
                added,
            )
            reason = with_labels % values
        return _report(batch, name, BatchOutcome.DUPLICATE, reason, existing, labelled=bool(added))


def _add_labels(
    image: Image, batch: UploadBatch, hints: IngestHints, *, skip_known: bool = False
) -> int:
    known = set()
    if skip_known:
        known = set(
            image.annotations.filter(source=LabelSource.IMPORT).values_list(
                "taxon_id", *Box.COLUMNS
            )
        )
    rows = []
    for label in hints.labels:
        columns = label.box.columns() if label.box else dict.fromkeys(Box.COLUMNS)
        if (label.taxon.pk, *columns.values()) in known:
            continue
        rows.append(
            Annotation(
                image=image,
                taxon=label.taxon,
                author=batch.uploader,
                role=hints.label_role,
                source=LabelSource.IMPORT,
                batch=batch,
                count=label.count,
                **columns,
            )
        )
    Annotation.objects.bulk_create(rows)
    # A frame without labels of its own takes its sequence's, if it has any; else it has none and
    # nothing to refresh (most uploads: the refresh is the dearest query of an upload).
    if rows or Annotation.objects.filter(sequence_id=image.sequence_id).exists():
        current_labels_refresh(images=Image.objects.filter(pk=image.pk))
    return len(rows)


def _store_files(path: Path, sha256: str, organisation_id: int, info: MediaInfo) -> tuple[str, str]:
    folder = f"{organisation_id}/{sha256[:2]}"
    with path.open("rb") as handle:
        original = default_storage.save(
            f"images/{folder}/{sha256[:20]}{info.extension}", File(handle)
        )
    try:
        thumbnail = default_storage.save(
            f"thumbs/{folder}/{sha256[:20]}.jpg", ContentFile(info.thumbnail_jpeg)
        )
    except BaseException:
        default_storage.delete(original)
        raise
    return original, thumbnail


def _delete_files(names: tuple[str, ...]) -> None:
    for name in names:
        default_storage.delete(name)


def _taken_at(
    info: MediaInfo, hints: IngestHints, deployment: Deployment | None
) -> tuple[dt.datetime | None, Worded]:
    """The image's time and date note: camera time corrected by the camera's clock offset, or None
    and why."""
    naive, note = _camera_time(info, hints)
    if naive is None:
        return None, note
    seconds = deployment.clock_offset_s if deployment else 0
    try:
        # Camera clocks carry no zone; the pool keeps camera time as if it were UTC, corrected by
        # the offset.
        return timezone.make_aware(naive, dt.UTC) + dt.timedelta(seconds=seconds), note
    except OverflowError:
        moved = gettext_noop(
            "camera date %(date)s moved by the camera's clock offset (%(seconds)s s) is out of "
            "range; the image is kept without a date"
        )
        return None, Worded(moved, {"date": naive.isoformat(sep=" "), "seconds": f"{seconds:,}"})


def _camera_time(info: MediaInfo, hints: IngestHints) -> tuple[dt.datetime | None, Worded]:
    """An import's date wins over EXIF, judged as EXIF dates are (an index's year 1 or 9999 is
    no date)."""
    if hints.taken_at is None:
        return info.exif.taken_at, info.exif.date_note
    limits = media_limits()
    raw = hints.taken_at.isoformat(sep=" ")
    note = check_plausible(
        hints.taken_at,
        raw,
        earliest_year=limits.earliest_year,
        now=limits.now,
        source=IMPORT_DATE,
    )
    return (None, note) if note else (hints.taken_at, info.exif.date_note)


def _create_image(
    path: Path,
    name: str,
    batch: UploadBatch,
    deployment: Deployment | None,
    info: MediaInfo,
    sha256: str,
    stored: tuple[str, str],
    maxlag_s: float | None,
    hints: IngestHints,
) -> Image:
    if deployment is not None:
        # Serialise sequence placement per camera (PostgreSQL; SQLite already holds the write lock).
        # Only the deployment's row, in the mode that lets other transactions insert rows referring
        # to it: `.first()` in the model's order joined the organisation and locked its row too,
        # so the uploads of one organisation to different cameras waited on each other.
        unique_or_none(
            Deployment.objects.select_for_update(of=("self",), no_key=True).filter(pk=deployment.pk)
        )
    taken_at, date_note = _taken_at(info, hints, deployment)
    image = Image(
        organisation_id=batch.organisation_id,
        deployment=deployment,
        batch=batch,
        uploader=batch.uploader,
        kind=info.kind,
        file=stored[0],
        thumbnail=stored[1],
        original_name=name[:500],
        sha256=sha256,
        bytes=path.stat().st_size,
        width=info.width,
        height=info.height,
        exif_datetime=info.exif.raw_datetime,
        taken_at=taken_at,
        date_note=translated(date_note)[:300],  # in the uploader's language, as the report
        camera_make=info.exif.camera_make,
        camera_model=info.exif.camera_model,
        duration_s=info.duration_s,
        frame_count=info.frame_count,
        fps=info.fps,
    )
    if maxlag_s is None:
        maxlag_s = batch.organisation.sequence_maxlag_s
    image.sequence = sequence_place(image=image, maxlag_s=maxlag_s, external_id=hints.sequence_id)
    image.save()
    _add_labels(image, batch, hints)
    return image


def staging_dir() -> Path:
    return Path(settings.DATA_DIR) / "staging"


def remove_staged(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
