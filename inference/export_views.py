"""The export pages: choose what and how (pre-filled from the query string other pages link with),
follow the job, download the result. Link here with /exports/?organisation=ID, ?deployment=ID
(repeatable), or the image list's own filters (organisation, deployment, taxon, labelled, source,
batch, taken_from and taken_to as days, or taken_after and taken_before to the second), optionally
with &format=camtrapdp|coco|deepfaune_csv|deepfaune_xlsx|deepfaune_folders|megadetector."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation.browse import SOURCE_FILTERS
from annotation.models import Organisation
from faune_platform.converters import id_or_none
from inference.engine.exports.files import zip_stream
from inference.forms import ExportForm
from inference.job_words import job_status_words
from inference.models import ExportFormat
from inference.services.exports.jobs import (
    export_delete,
    export_download_check,
    export_request,
    export_row,
    exports_visible_to,
)
from inference.services.exports.scope import ExportError, exportable_organisations


def _organisations(request: HttpRequest) -> QuerySet[Organisation]:
    allowed = exportable_organisations(request.user)
    return (
        Organisation.objects.all()
        if allowed is None
        else Organisation.objects.filter(pk__in=allowed)
    )


def _initial(request: HttpRequest) -> dict:
    """The form's starting values from the query string; what names nothing is ignored."""
    query = request.GET
    initial = {
        "organisation": id_or_none(query.get("organisation")),
        "taxon": id_or_none(query.get("taxon")),
        "batch": id_or_none(query.get("batch")),
        "deployment": [pk for pk in map(id_or_none, query.getlist("deployment")) if pk],
        "labelled": query.get("labelled") if query.get("labelled") in ("yes", "no") else "",
    }
    if query.get("source") in SOURCE_FILTERS:
        initial["source"] = query["source"]
    for name in ("taken_after", "taken_before"):
        initial[name] = _moment(query.get(name))
    # The image list filters whole days, both included: the first day from midnight, the last to its
    # last second.
    first, last = _day(query.get("taken_from")), _day(query.get("taken_to"))
    if first and not initial["taken_after"]:
        initial["taken_after"] = dt.datetime.combine(first, dt.time.min)
    if last and not initial["taken_before"]:
        initial["taken_before"] = dt.datetime.combine(last, dt.time(23, 59, 59))
    if query.get("format") in ExportFormat.values:
        initial["format"] = query["format"]
    return {name: value for name, value in initial.items() if value not in (None, "", [])}


def _moment(text: str | None) -> dt.datetime | None:
    """A time from the query string, or None when it is not one or cannot be shown in the page's
    time zone (year 1 at +05:00 is before the first instant a datetime holds in UTC)."""
    try:
        moment = parse_datetime(text or "")
        if moment is not None:
            timezone.localtime(moment if timezone.is_aware(moment) else timezone.make_aware(moment))
        return moment
    except (ValueError, OverflowError):
        return None


def _day(text: str | None) -> dt.date | None:
    try:
        return parse_date(text or "")
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    organisations = _organisations(request)
    if request.method == "POST":
        form = ExportForm(request.POST, organisations=organisations)
        if form.is_valid():
            try:
                job = export_request(
                    user=request.user,
                    fmt=form.cleaned_data["format"],
                    scope=form.scope(),
                    options=form.options(),
                )
            except (ExportError, PermissionDenied) as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Export started; this page follows it."))
                return redirect("export-detail", pk=job.pk)
    else:
        form = ExportForm(initial=_initial(request), organisations=organisations)
    jobs = exports_visible_to(request.user)[:50]
    return render(
        request,
        "inference/exports.html",
        {"form": form, "jobs": jobs, "member": organisations.exists()},
        status=400 if form.errors else 200,
    )


@login_required
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(exports_visible_to(request.user), pk=pk)
    return render(
        request,
        "inference/export_detail.html",
        {"job": job, "row": export_row(job), "status_words": job_status_words()},
    )


@login_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(exports_visible_to(request.user), pk=pk)
    target = export_download_check(
        request.user, job=job
    )  # a refusal is answered by DomainErrorMiddleware, as text
    name = f"faune-export-{job.pk}-{job.format}"
    if target.is_file():
        return FileResponse(
            target.open("rb"), as_attachment=True, filename=f"{name}{target.suffix}"
        )
    response = StreamingHttpResponse(zip_stream(target), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    return response


@login_required
@require_POST
def export_remove(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(exports_visible_to(request.user), pk=pk)
    try:
        export_delete(job=job)
    except ExportError as error:
        messages.error(request, str(error))
        return redirect("export-detail", pk=pk)
    messages.success(request, _("Export %(id)s and its files were deleted.") % {"id": pk})
    return redirect("exports")
