"""Exports as jobs (faune_platform/jobs.py): requested by a page, the API or a command, worked in
chunks of sequences, resumed after a killed worker, downloaded by whoever may still export every
organisation in it."""

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from annotation.models import Image, Taxon
from annotation.permissions import user_access
from faune_platform.errors import Gone, StateConflict
from faune_platform.files import held_exclusively
from faune_platform.jobs import (
    ChunkClock,
    job_claim,
    job_continue,
    job_enqueue,
    job_fail,
    job_finish,
    job_heartbeat,
)
from inference.engine.exports.camtrapdp import SAMPLING_DESIGNS, valid_offset
from inference.engine.exports.deepfaune import LANGUAGES
from inference.engine.exports.files import lengths, rewind
from inference.job_words import job_status_word
from inference.models import ExportFormat, ExportJob
from inference.selectors import production_version
from inference.services.exports.gather import (
    Context,
    next_sequences,
    read_slice,
    site_ids,
    utc_offsets,
)
from inference.services.exports.scope import (
    ExportError,
    ExportOptions,
    ExportScope,
    describe,
    exportable_organisations,
    scope_check,
    scoped_images,
)
from inference.services.exports.writers import Summary, Writer, writer_for

EXPORT_TASK = "inference.tasks.export_run"
SLICE = 200  # sequences read and written at once


class ExportBusy(StateConflict, ExportError):
    """The export is still running (or failed): nothing to download or delete yet."""


class ExportGone(Gone, ExportError):
    pass


COUNTS = (
    "frames",
    "events",
    "observations",
    "files",
    "blurred",
    "excluded_people",
    "withheld_videos",
    "missing_files",
    "unlabelled",
    "undated",
    "undetected",
)


def exports_root() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def export_folder(job: ExportJob) -> Path:
    return Path(job.folder) if job.folder else exports_root() / str(job.pk)


def options_check(fmt: str, *, options: ExportOptions) -> None:
    if fmt not in ExportFormat.values:
        raise ExportError(
            _("Unknown format %(format)r; choose one of %(formats)s.")
            % {"format": fmt, "formats": ", ".join(ExportFormat.values)}
        )
    if options.people not in ("blur", "exclude"):
        raise ExportError(
            _("Images of people are either blurred ('blur') or left out ('exclude').")
        )
    if options.language not in LANGUAGES:
        raise ExportError(_("The class names are in French ('fr') or English ('en')."))
    if options.utc_offset and not valid_offset(options.utc_offset):
        raise ExportError(_("A UTC offset reads like +01:00 or -05:00 (or Z)."))
    if options.sampling_design not in SAMPLING_DESIGNS:
        raise ExportError(
            _("The sampling design is one of %(designs)s.")
            % {"designs": ", ".join(SAMPLING_DESIGNS)}
        )


def export_request(
    *,
    user: User | None,
    fmt: str,
    scope: ExportScope,
    options: ExportOptions,
    folder: str = "",
    enqueue: bool = True,
) -> ExportJob:
    """Check the request (format, options, what the user may export) and record the job; queue it
    unless the caller works it itself (`export_work`, as the commands do)."""
    options_check(fmt, options=options)
    scope_check(user, scope=scope)
    images = scoped_images(scope, allowed=exportable_organisations(user))
    organisations = sorted(
        set(images.order_by().values_list("organisation_id", flat=True).distinct())
    )
    if not organisations:
        raise ExportError(_("Nothing to export: no image matches this choice."))
    with transaction.atomic():
        job = ExportJob.objects.create(
            created_by=user,
            format=fmt,
            scope=scope.as_dict(),
            options=options.as_dict(),
            version=production_version(),
            organisations=organisations,
            folder=folder,
            total=images.count(),
        )
        if enqueue:
            job_enqueue(job, EXPORT_TASK)
    return job


def export_run(job_id: int, *, token: str) -> None:
    """The task: one chunk of the export; the next is queued until it is done."""
    job = job_claim(ExportJob, job_id, token)
    if not isinstance(job, ExportJob):  # None: another task owns it (or it ended)
        return
    try:
        finished = export_work(job, clock=ChunkClock.start())
    except ExportError as error:
        job_fail(job, str(error))
        return
    except Exception as error:
        job_fail(job, error)
        raise
    if not finished:
        job_continue(job, EXPORT_TASK)


def _images(job: ExportJob) -> QuerySet[Image]:
    return scoped_images(ExportScope.from_dict(job.scope), allowed=set(job.organisations))


def _begin(job: ExportJob, writer: Writer, folder: Path, images: QuerySet[Image]) -> Summary:
    """Start (or start again after an interruption before the first checkpoint): an empty folder,
    headers, the export's ids for the deployments and the time zones imports brought."""
    if folder.parent == exports_root() and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer.begin()
    keys = site_ids(images)
    offsets = {
        keys[pk]: offset for pk, offset in utc_offsets(job.organisations).items() if pk in keys
    }
    summary = Summary({"site_keys": keys, "offsets": offsets})
    job.cursor = 0
    _checkpoint(job, folder, writer, summary, stage=_("writing"))
    return summary


def _checkpoint(
    job: ExportJob, folder: Path, writer: Writer, summary: Summary, **fields: object
) -> bool:
    job.state = {
        "begun": True,
        "lengths": lengths(folder, writer.appended),
        "summary": summary.data,
    }
    done = (
        summary.data["frames"] + summary.data["excluded_people"] + summary.data["withheld_videos"]
    )
    return job_heartbeat(job, state=job.state, cursor=job.cursor, done=done, **fields)


def export_work(job: ExportJob, *, clock: ChunkClock | None) -> bool:
    """Write slices of sequences until the export is done (True) or the chunk's time is spent, or
    another task took the job over (False). No clock: work to the end (the commands)."""
    folder = export_folder(job)
    # One task writes an export's files at a time: a task the sweep thought dead (a slow slice of
    # copies and blurring) may still be appending when the task given the job rewinds them.
    with held_exclusively(_lock_file(folder)):
        return _write_slices(job, folder, clock)


def _lock_file(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def _write_slices(job: ExportJob, folder: Path, clock: ChunkClock | None) -> bool:
    options = ExportOptions.from_dict(job.options)
    writer = writer_for(job.format, folder=folder, options=options)
    images = _images(job)
    if job.state.get("begun"):
        rewind(
            folder, job.state["lengths"]
        )  # what a killed chunk wrote after its last checkpoint goes
        summary = Summary(job.state["summary"])
    else:
        summary = _begin(job, writer, folder, images)
    context = Context(
        version=job.version,
        taxa=Taxon.objects.in_bulk(),
        sites=summary.data["site_keys"],
        exclude_people=options.people == "exclude",
        with_files=writer.copies_files,
    )
    while True:
        ids = next_sequences(images, cursor=job.cursor, limit=SLICE)
        if not ids:
            return _finish(job, writer, summary)
        writer.write(read_slice(context, images=images, sequence_ids=ids), summary)
        job.cursor = max(ids)
        if not _checkpoint(job, folder, writer, summary) or (clock is not None and clock.spent):
            return False


def _finish(job: ExportJob, writer: Writer, summary: Summary) -> bool:
    title = describe(ExportScope.from_dict(job.scope))
    notes = _people_notes(summary.data) + writer.finish(
        summary, title=title, organisation_ids=job.organisations
    )
    report = {name: summary.data[name] for name in COUNTS}
    report.update(deployments=len(summary.data["sites"]), notes=notes, result=writer.result)
    return job_finish(job, report=report, stage="", state=job.state)


def _people_notes(data: dict[str, Any]) -> list[str]:
    notes = []
    if data["blurred"]:
        notes.append(
            _("%(count)s image(s) showing people were blurred.") % {"count": data["blurred"]}
        )
    if data["excluded_people"]:
        notes.append(
            _("%(count)s image(s) showing people were left out, as asked.")
            % {"count": data["excluded_people"]}
        )
    if data["withheld_videos"]:
        notes.append(
            _("%(count)s video(s) showing people were left out: videos cannot be blurred.")
            % {"count": data["withheld_videos"]}
        )
    if data["missing_files"]:
        notes.append(
            _("%(count)s stored file(s) were missing and could not be copied.")
            % {"count": data["missing_files"]}
        )
    return notes


def exports_visible_to(user: User | AnonymousUser) -> QuerySet[ExportJob]:
    """Coordinators see every export; others their own."""
    access = user_access(user)
    jobs = ExportJob.objects.select_related("created_by")
    if access.coordinator:
        return jobs
    # user.is_authenticated (as access.authenticated) tells mypy the user is a User
    return jobs.filter(created_by=user) if user.is_authenticated else jobs.none()


def export_download_check(user: User | AnonymousUser, *, job: ExportJob) -> Path:
    """The file (or folder) to send, once the user may still export every organisation the
    export holds."""
    allowed = exportable_organisations(user)
    if allowed is not None and not set(job.organisations) <= allowed:
        raise PermissionDenied(
            _("This export holds images of organisations you no longer belong to.")
        )
    if job.status != "done":
        raise ExportBusy(
            _("This export is %(status)s: there is nothing to download yet.")
            % {"status": job_status_word(job.status)}
        )
    result: str = job.report.get("result", "")  # "" for a folder
    target = export_folder(job) / result
    if not target.exists():
        raise ExportGone(_("The files of this export were removed; start it again."))
    return target


def export_delete(*, job: ExportJob) -> None:
    """Remove a finished (or failed) export and its files; a running one is left to finish first."""
    if job.active:
        raise ExportBusy(_("This export is still running: wait for it to end before deleting it."))
    folder = export_folder(job)
    if (
        folder.parent == exports_root()
    ):  # a command's own output folder is the user's, never removed here
        shutil.rmtree(folder, ignore_errors=True)
    _lock_file(folder).unlink(missing_ok=True)
    job.delete()


def export_row(job: ExportJob) -> dict[str, Any]:
    """An export as the API and the pages show it."""
    from django.urls import reverse

    done = job.status == "done"
    return {
        "id": job.pk,
        "format": job.format,
        "format_label": job.get_format_display(),
        "status": job.status,
        "title": describe(ExportScope.from_dict(job.scope)),
        "stage": job.stage,
        "error": job.error,
        "total": job.total,
        "done": job.done,
        "progress": round(min(1.0, job.done / job.total), 4)
        if job.total
        else (1.0 if done else 0.0),
        "scope": job.scope,
        "options": job.options,
        "report": job.report,
        "created_by": job.created_by.username if job.created_by else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "page_url": reverse("export-detail", args=[job.pk]),
        "download_url": reverse("export-download", args=[job.pk]) if done else None,
    }
