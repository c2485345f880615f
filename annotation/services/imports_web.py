"""Imports sent through the web page or the API: a zip is unpacked and checked now. When every class
name has a taxon the import is queued at once; otherwise the batch waits (status open, its unpacked
files kept) until the person maps the classes, on the page or through the API, without sending the
archive again.

Unpacking happens before any write transaction (on SQLite a write transaction holds the database
lock, and an archive of thousands of photographs takes a while); recording the batch, applying a
mapping (creating the taxa it asks for) and queueing the job are each one short transaction."""

import uuid
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from annotation.ingest.archive import ArchiveRejected, EntryRejection, extract_zip
from annotation.models import (
    BatchItem,
    BatchKind,
    BatchOutcome,
    BatchStatus,
    Deployment,
    Organisation,
    UploadBatch,
)
from annotation.permissions import require_coordinator, user_access
from annotation.services.batches import batch_open
from annotation.services.class_mapping import (
    Choice,
    ClassRow,
    NewTaxon,
    UnmappedClasses,
    class_mapping_apply,
    class_mapping_decide,
    class_mapping_propose,
)
from annotation.services.imports import import_plan
from annotation.services.ingest import remove_staged, stage_upload, staging_dir
from annotation.tasks import import_folder, queue_import
from faune_platform.errors import StateConflict
from faune_platform.responses import translated


class ImportNotWaiting(StateConflict):
    """The import is not waiting for a class mapping (already mapped, running or done)."""


def import_archive_accept(
    *,
    archive: "UploadedFile[bytes]",
    organisation: Organisation,
    deployment_name: str,
    user: User,
    fmt: str,
    maxlag_s: float | None,
    choices: Mapping[str, Choice] | None = None,
    create_taxa: bool = False,
) -> UploadBatch:
    """Unpack and check an import now (bad zip, unreadable layout: refused at once, nothing
    recorded) and record its batch; queue it when every class has a taxon (chosen in `choices`,
    named exactly, or created with `create_taxa`), else leave it waiting for the mapping. Call
    outside any transaction."""
    if create_taxa or any(isinstance(choice, NewTaxon) for choice in (choices or {}).values()):
        require_coordinator(
            user, _("create taxa; map the classes to existing taxa, or ask a coordinator")
        )
    fallback = _archive_stem(archive.name)
    unpacked = staging_dir() / f"{uuid.uuid4().hex}.d"
    try:
        rejections = _unpack(archive, unpacked)
        if not unpacked.is_dir() or not any(
            unpacked.iterdir()
        ):  # nothing to import, nothing to record
            raise ArchiveRejected(_("The archive holds no file that can be imported."))
        plan = import_plan(
            root=unpacked, fmt=fmt, deployment_name=deployment_name or None, fallback=fallback
        )
        decided = _decided_or_none(
            class_mapping_propose(plan.class_counts), choices or {}, create_taxa
        )
        params = {
            "format": plan.format,
            "maxlag": maxlag_s,
            "deployment": deployment_name,
            "fallback": fallback,
            "create_taxa": create_taxa,
            "class_counts": plan.class_counts,
            "unpack_rejected": len(rejections),
            # the worker writes the report in the language of the person who sent the archive
            "language": get_language(),
        }
        chosen = Deployment.objects.filter(organisation=organisation, name=deployment_name).first()
        return _record(
            unpacked,
            rejections,
            len(plan.files),
            decided,
            organisation=organisation,
            deployment=chosen,
            uploader=user,
            source_name=archive.name or "archive.zip",
            params=params,
        )
    finally:
        remove_staged(unpacked)  # gone already when the batch took it


def _archive_stem(name: str | None) -> str:
    """Files the archive names no camera for go to a deployment named after it ("Col
    du Lautaret.zip")."""
    return PurePath(name or "").stem.strip() or "import"


def _decided_or_none(
    rows: list[ClassRow], choices: Mapping[str, Choice], create_taxa: bool
) -> dict[str, Choice] | None:
    try:
        return class_mapping_decide(rows=rows, choices=choices, create_missing=create_taxa)
    except UnmappedClasses:
        return None  # the batch waits for a person to map them


@transaction.atomic
def _record(
    unpacked: Path,
    rejections: list[EntryRejection],
    planned: int,
    decided: Mapping[str, Choice] | None,
    **batch_fields: Any,
) -> UploadBatch:
    """The batch and its unpacked files; mapped and queued when `decided`, else waiting (open) for
    a mapping."""
    batch = batch_open(kind=BatchKind.IMPORT, **batch_fields)
    BatchItem.objects.bulk_create(
        BatchItem(
            batch=batch,
            name=r.name[:500],
            outcome=BatchOutcome.REJECTED,
            reason=translated(r.reason)[:500],
        )
        for r in rejections
    )
    batch.total = planned + len(rejections)
    UploadBatch.objects.filter(pk=batch.pk).update(total=batch.total)
    folder = import_folder(batch.pk)
    folder.parent.mkdir(parents=True, exist_ok=True)
    unpacked.rename(folder)
    try:
        if decided is not None:
            _map_and_queue(batch, decided, batch.uploader)
    except BaseException:
        folder.rename(
            unpacked
        )  # the transaction rolls back: the folder goes back to staging, then away
        raise
    return batch


@transaction.atomic
def _map_and_queue(batch: UploadBatch, decided: Mapping[str, Choice], user: User | None) -> None:
    """Create the taxa the mapping asks for, keep the mapping on the batch and queue the import: all
    or none."""
    mapping, _created = class_mapping_apply(decided=decided, user=user)
    batch.class_mapping = mapping
    UploadBatch.objects.filter(pk=batch.pk).update(class_mapping=mapping)
    queue_import(batch)


def import_classes(batch: UploadBatch) -> list[ClassRow]:
    """The class names of a recorded import with their file counts and suggestions (read from the
    batch: the files are not walked again)."""
    return class_mapping_propose(batch.params.get("class_counts", {}))


def _check_may_change(batch: UploadBatch, user: User) -> None:
    if not user_access(user).can_contribute_to(batch.organisation_id):
        raise PermissionDenied(
            _("You are not a member of %(organisation)s.") % {"organisation": batch.organisation}
        )


def import_mapping_submit(
    *, batch: UploadBatch, choices: Mapping[str, Choice], user: User
) -> UploadBatch:
    """Map the classes of an import waiting for it and queue it, in one transaction: a refused
    mapping (a class left without a taxon, a new taxon asked by a partner or named like an existing
    one) changes nothing."""
    _check_may_change(batch, user)
    with transaction.atomic():
        # Taking the batch out of "open" first makes a second, concurrent submission find nothing
        # to map.
        taken = UploadBatch.objects.filter(
            pk=batch.pk, kind=BatchKind.IMPORT, status=BatchStatus.OPEN
        ).update(status=BatchStatus.QUEUED)
        if not taken:
            raise ImportNotWaiting(_("This import is not waiting for a class mapping any more."))
        if not import_folder(batch.pk).is_dir():
            raise ImportNotWaiting(
                _("The files of this import are gone; cancel it and import the archive again.")
            )
        decided = class_mapping_decide(
            rows=import_classes(batch),
            choices=choices,
            create_missing=batch.params.get("create_taxa", False),
        )
        _map_and_queue(batch, decided, user)
    batch.refresh_from_db()
    return batch


def import_cancel(*, batch: UploadBatch, user: User) -> None:
    """Drop an import still waiting for its mapping: nothing of it was stored, so the batch and its
    unpacked files simply go."""
    _check_may_change(batch, user)
    with transaction.atomic():
        deleted, _rows = UploadBatch.objects.filter(
            pk=batch.pk, kind=BatchKind.IMPORT, status=BatchStatus.OPEN
        ).delete()
        if not deleted:
            raise ImportNotWaiting(
                _("Only an import waiting for its class mapping can be cancelled.")
            )
        transaction.on_commit(lambda: remove_staged(import_folder(batch.pk)))


def _unpack(archive: "UploadedFile[bytes]", folder: Path) -> list[EntryRejection]:
    staged = staging_dir() / f"{uuid.uuid4().hex}.zip"
    try:
        stage_upload(archive, destination=staged)
        return extract_zip(
            staged,
            folder,
            max_total_bytes=settings.FAUNE["MAX_ZIP_UNCOMPRESSED_BYTES"],
            max_ratio=settings.FAUNE["MAX_ZIP_RATIO"],
        )
    finally:
        remove_staged(staged)
