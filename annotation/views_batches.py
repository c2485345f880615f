"""Pages of uploads and imports: the upload page, the import form and its class-mapping step,
and each batch's report, which follows its two phases (stored, then pre-labelled) live
through batch_progress.js."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from annotation.forms import ClassMappingForm, ImportForm
from annotation.ingest.archive import ArchiveRejected
from annotation.ingest.plans import LayoutError
from annotation.models import BatchKind, BatchOutcome, BatchStatus, Deployment, Taxon, UploadBatch
from annotation.permissions import user_access
from annotation.selectors import (
    batch_deployment_names,
    batch_state,
    batch_stored_progress,
    batches_visible_to,
)
from annotation.services.batches import BatchNotAnUpload, batch_close
from annotation.services.class_mapping import UnmappedClasses
from annotation.services.imports_web import (
    ImportNotWaiting,
    import_archive_accept,
    import_cancel,
    import_classes,
    import_mapping_submit,
)
from annotation.services.targets import upload_target_resolve
from annotation.services.upload_limits import UploadLimitExceeded, UploadSize, upload_allowance_take
from annotation.views import (
    _organisations_for as organisations_for,
)  # one rule for both page modules
from faune_platform.plurals import counted, fill
from faune_platform.responses import message_of, status_of

# What the upload, import and batch pages say about a batch's two phases (batch_progress.js fills
# the {names}).
STATE_WORDS = {
    "receiving": gettext_lazy("receiving files"),
    "mapping": gettext_lazy("waiting for the class mapping"),
    "queued": gettext_lazy("queued"),
    "running": gettext_lazy("running"),
    "done": gettext_lazy("done"),
    "failed": gettext_lazy("failed"),
    "waiting": gettext_lazy("waiting"),
    "after_stored": gettext_lazy("waiting for stored files"),
    "nothing": gettext_lazy("nothing to do"),
    "prelabelling": gettext_lazy("stored; pre-labelling"),
    "no_model": gettext_lazy("no model"),
}


def _upload_words() -> dict:
    return {
        "choose_deployment": _("Choose a deployment or type a name for a new one first."),
        "busy": _("Files are still being sent; drop these again once they are."),
        # Label and number, so that no count needs its own plural.
        "sending": _(
            "imported: {imported}, duplicates: {duplicate}, rejected: {rejected} — {percent}%"
        ),
        "open": _(
            "Upload #{batch} so far: stored {imported}, duplicates {duplicate}, rejected "
            "{rejected}. Drop more files to add them to this upload; press Done when every file "
            "is sent."
        ),
        "closed": _("Upload #{batch} is closed."),
        "report": _("See the report of this upload"),
        "stopped": _("Upload stopped: {error}"),
        "network": _("The connection failed; check the network and try again."),
        "server": _("The server answered {status}."),
    }


def _progress_words() -> dict:
    files_done = counted(
        "total", lambda n: ngettext("{handled} of {total} file", "{handled} of {total} files", n)
    )
    images_done = counted(
        "images",
        lambda n: ngettext("{predicted} of {images} image", "{predicted} of {images} images", n),
    )
    return {
        "states": STATE_WORDS,
        "stored": {
            "receiving": counted(
                "handled",
                lambda n: ngettext(
                    "{handled} file stored so far; press Done when every file is sent",
                    "{handled} files stored so far; press Done when every file is sent",
                    n,
                ),
            ),
            "mapping": _("nothing is stored until each class has a taxon"),
            "queued": counted(
                "total",
                lambda n: ngettext(
                    "{handled} of {total} file; waiting for the worker",
                    "{handled} of {total} files; waiting for the worker",
                    n,
                ),
            ),
            "running": files_done,
            "done": files_done,
            "failed": counted(
                "total",
                lambda n: ngettext(
                    "stopped after {handled} of {total} file: {error}",
                    "stopped after {handled} of {total} files: {error}",
                    n,
                ),
            ),
        },
        "prelabel": {
            "no_model": _("no model is in production, so nothing is pre-labelled"),
            "after_stored": _("starts once the files are stored"),
            "nothing": _("no new image to pre-label"),
            "waiting": counted(
                "images",
                lambda n: ngettext(
                    "{predicted} of {images} image; waiting for the worker",
                    "{predicted} of {images} images; waiting for the worker",
                    n,
                ),
            ),
            "running": images_done,
            "done": images_done,
            "failed": counted(
                "images",
                lambda n: ngettext(
                    "stopped after {predicted} of {images} image: {error}",
                    "stopped after {predicted} of {images} images: {error}",
                    n,
                ),
            ),
        },
        "by_version": _("by {version}"),
        "zero_shot": _("(zero-shot)"),
        "lost": _("Progress cannot be read right now; trying again…"),
    }


@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    organisations = organisations_for(request)
    if not organisations:
        raise PermissionDenied(
            _("You are not a member of any organisation yet; ask a coordinator to add you.")
        )
    deployments = Deployment.objects.filter(organisation__in=organisations)
    limits = {key: settings.FAUNE[key] for key in ("MAX_FILES_PER_REQUEST", "MAX_REQUEST_BYTES")}
    return render(
        request,
        "annotation/upload.html",
        {
            "organisations": organisations,
            "deployments": deployments,
            "progress_words": _progress_words(),
            "upload_words": _upload_words(),
            "limits": limits,
        },
    )


def _visible_batch(request: HttpRequest, pk: int) -> UploadBatch:
    return get_object_or_404(
        batches_visible_to(request.user).select_related("organisation", "deployment"), pk=pk
    )


def _mapping_shown(batch: UploadBatch) -> list[tuple[str, Taxon | None]]:
    """The class mapping an import applied: each source class and its taxon (None:
    imported unlabelled)."""
    taxa = Taxon.objects.in_bulk(
        [slug for slug in batch.class_mapping.values() if slug], field_name="slug"
    )
    return [
        (name, taxa.get(slug) if slug else None)
        for name, slug in sorted(batch.class_mapping.items())
    ]


@login_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _visible_batch(request, pk)
    problems = batch.items.exclude(outcome=BatchOutcome.IMPORTED).select_related("image")
    progress, words = batch_stored_progress(batch), _progress_words()
    return render(
        request,
        "annotation/batch_detail.html",
        {
            "batch": batch,
            "counts": progress["counts"],
            "progress": progress,
            "problems": problems[:1000],
            "mapping": _mapping_shown(batch),
            "deployments": batch_deployment_names([batch])[batch.pk],
            "can_change": user_access(request.user).can_contribute_to(batch.organisation_id),
            "state_label": STATE_WORDS.get(progress["state"], progress["state"]),
            "progress_words": words,
            "stored_text": fill(words["stored"].get(progress["state"], ""), progress),
        },
    )


@login_required
@require_POST
def batch_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The report page's Done button, for an upload whose page was left before Done."""
    batch = _visible_batch(request, pk)
    if not user_access(request.user).can_contribute_to(batch.organisation_id):
        raise PermissionDenied(
            _("You are not a member of %(organisation)s.") % {"organisation": batch.organisation}
        )
    try:
        batch_close(batch=batch)
    except BatchNotAnUpload as error:
        messages.error(request, str(error))
    return redirect("batch-detail", pk=pk)


@login_required
def batch_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(
        batches_visible_to(request.user).select_related("organisation", "deployment"), 50
    ).get_page(request.GET.get("page"))
    names = batch_deployment_names(list(page))
    rows = [(batch, names.get(batch.pk, []), _state_of(batch)) for batch in page]
    return render(request, "annotation/batch_list.html", {"page": page, "rows": rows})


def _state_of(batch: UploadBatch) -> tuple[str, str]:
    """(state, label) of a batch's storing phase."""
    state = batch_state(batch)
    return state, STATE_WORDS.get(state, state)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    organisations = organisations_for(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]
    refused_status = 400
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            organisation, _none = upload_target_resolve(
                user=request.user, organisation_id=data["organisation"]
            )
            upload_allowance_take(organisation=organisation, size=UploadSize.of([data["archive"]]))
            batch = import_archive_accept(
                archive=data["archive"],
                organisation=organisation,  # unpacks first
                deployment_name=data["deployment_name"].strip(),
                user=request.user,
                fmt=data["format"],
                maxlag_s=data["maxlag"],
            )
        except UploadLimitExceeded as error:
            form.add_error(None, str(error))
            refused_status = status_of(error) or 400
        except (LayoutError, ArchiveRejected, ValidationError, PermissionDenied) as error:
            form.add_error(None, " ".join(getattr(error, "messages", [message_of(error)])))
        else:
            if batch.status == BatchStatus.OPEN:
                return redirect("import-classes", pk=batch.pk)
            messages.success(
                request, _("Import accepted; it runs in the background. This page follows it.")
            )
            return redirect("batch-detail", pk=batch.pk)
    deployments = Deployment.objects.filter(organisation__in=organisations).order_by("name")
    return render(
        request,
        "annotation/import.html",
        {"form": form, "deployments": deployments},
        status=refused_status if form.errors else 200,
    )


def _waiting_import(request: HttpRequest, pk: int) -> UploadBatch:
    return get_object_or_404(
        batches_visible_to(request.user).select_related("organisation"),
        pk=pk,
        kind=BatchKind.IMPORT,
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_classes_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The mapping step of an import: each class with its file count and suggested taxon, editable;
    then import. The archive stays on the server meanwhile, so nothing is chosen twice."""
    batch = _waiting_import(request, pk)
    if batch.status != BatchStatus.OPEN:
        return redirect("batch-detail", pk=pk)
    coordinator = user_access(request.user).coordinator
    taxa = sorted(Taxon.objects.all(), key=lambda taxon: taxon.name_en.casefold())
    # Bound on every POST, an empty one included: it is refused with what is missing, not shown
    # again blank.
    data = request.POST if request.method == "POST" else None
    form = ClassMappingForm(data, rows=import_classes(batch), taxa=taxa, coordinator=coordinator)
    if request.method == "POST":
        if form.asks_new_taxa() and not coordinator:
            raise PermissionDenied(
                _(
                    "Only coordinators create taxa; map the class to an existing taxon, or ask a "
                    "coordinator to add it first."
                )
            )
        if form.is_valid() and _mapping_submitted(request, form, batch, {t.slug: t for t in taxa}):
            return redirect("batch-detail", pk=pk)
    return render(
        request,
        "annotation/import_classes.html",
        {"batch": batch, "form": form, "coordinator": coordinator},
        status=400 if form.errors else 200,
    )


def _mapping_submitted(
    request: HttpRequest, form: ClassMappingForm, batch: UploadBatch, taxa: dict
) -> bool:
    try:
        import_mapping_submit(batch=batch, choices=form.choices(taxa), user=request.user)
    except (ValidationError, UnmappedClasses, ImportNotWaiting) as error:
        form.add_error(None, " ".join(getattr(error, "messages", [str(error)])))
        return False
    messages.success(
        request, _("Classes mapped; the import runs in the background. This page follows it.")
    )
    return True


@login_required
@require_POST
def import_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _waiting_import(request, pk)
    try:
        import_cancel(batch=batch, user=request.user)
    except ImportNotWaiting as error:
        messages.error(request, str(error))
        return redirect("batch-detail", pk=pk)
    messages.success(request, _("Import cancelled; nothing of it was stored."))
    return redirect("import")
