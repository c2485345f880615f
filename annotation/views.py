"""Pages of the labelled pool. Each view checks access through the selectors, then renders."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation.browse import SOURCE_CHOICES, SOURCE_WORDS, browse_neighbours, images_browse, label_boxes
from annotation.forms import ConflictResolveForm, ImageBrowseForm, ImportForm, LabelForm, TaxonForm
from annotation.ingest.archive import ArchiveRejected
from annotation.ingest.layouts import LayoutError
from annotation.models import BatchOutcome, Deployment, Image, Organisation, Taxon
from annotation.permissions import require_coordinator, review_taxa_of, user_access
from annotation.selectors import (
    batches_visible_to,
    deployments_visible_to,
    image_editable_by,
    images_visible_to,
    label_history,
    review_agreement,
    review_conflicts,
    second_opinions_waiting,
    sequence_frames,
    sequence_label_stamp,
)
from annotation.services.annotations import LabelConflict, annotation_add
from annotation.services.batches import batch_counts
from annotation.services.imports import UnknownClasses
from annotation.services.imports_web import import_archive_accept
from annotation.services.review import ReviewConflict, review_queue_counts
from annotation.services.targets import upload_target_resolve
from annotation.services.taxa import taxon_create
from annotation.services.upload_limits import UploadLimitExceeded, UploadSize, upload_allowance_take
from annotation.services.verdicts import Verdict, review_conflict_resolve
from annotation.taxon_names import taxa_in_reading_order

PAGE_SIZE = 60


def _organisations_for(request: HttpRequest):
    access = user_access(request.user)
    if access.coordinator:
        return Organisation.objects.all()
    return Organisation.objects.filter(pk__in=access.organisation_ids)


# The query-string keys of the image list's filters: its links, its pager and the image page carry them.
BROWSE_KEYS = ("organisation", "deployment", "batch", "taxon", "source", "labelled", "taken_from", "taken_to")


def _browse_params(query: QueryDict) -> str:
    kept = QueryDict(mutable=True)
    for key in BROWSE_KEYS:
        if query.get(key):
            kept[key] = query[key]
    return kept.urlencode()


def _name_labels(images: list[Image]) -> None:
    """Give each listed image the taxa its thumbnail names: its label's, else its pre-label's."""
    taxa = Taxon.objects.in_bulk({i.current_taxon_id for i in images} | {i.predicted_taxon_id for i in images}
                                 - {None})
    for image in images:
        image.shown_taxon = taxa.get(image.current_taxon_id)
        image.predicted_taxon = taxa.get(image.predicted_taxon_id)
        image.source_word = SOURCE_WORDS.get(image.current_source, image.current_source)


@login_required
def image_list(request: HttpRequest) -> HttpResponse:
    form = ImageBrowseForm(request.GET)
    valid = form.is_valid()
    images = images_browse(request.user, form.browse()) if valid else Image.objects.none()
    page = Paginator(images.select_related("deployment"), PAGE_SIZE).get_page(request.GET.get("page"))
    _name_labels(list(page))
    by_model = [image for image in page if image.shown_taxon is None and image.predicted_score is not None]
    return render(request, "annotation/image_list.html", {
        "page": page, "taxa": taxa_in_reading_order(), "deployments": deployments_visible_to(request.user),
        "by_model": bool(by_model), "zero_shot": any(image.predicted_zero_shot for image in by_model),
        "organisations": _organisations_for(request), "query": request.GET, "form": form,
        "sources": SOURCE_CHOICES, "refused": form.messages(), "filter_params": _browse_params(request.GET),
    }, status=200 if valid else 400)


def _browse_context(request: HttpRequest, image: Image) -> dict:
    """Where the image sits in the list it was opened from (its filters come along in the query string)."""
    form = ImageBrowseForm(request.GET)
    params = _browse_params(request.GET)
    if not form.is_valid():
        return {"browse_params": params, "neighbours": None, "back_url": reverse("image-list")}
    neighbours = browse_neighbours(images_browse(request.user, form.browse()), image)
    back = QueryDict(params, mutable=True)
    if neighbours.position:
        back["page"] = str((neighbours.position - 1) // PAGE_SIZE + 1)
    return {"browse_params": params, "neighbours": neighbours,
            "back_url": f"{reverse('image-list')}?{back.urlencode()}" if back else reverse("image-list")}


def _image_for(request: HttpRequest, pk: int):
    return get_object_or_404(images_visible_to(request.user).select_related("sequence", "deployment",
                                                                             "organisation"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = _image_for(request, pk)
    editable = image_editable_by(request.user, image)
    history = list(label_history(image))
    form = LabelForm(initial={"expected_current": history[0].pk if history else 0})
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("You can see this image but not label it.")
        form = LabelForm(request.POST)
        if form.is_valid():
            try:
                annotation_add(image=image, taxon=form.cleaned_data["taxon"], author=request.user,
                               whole_sequence=form.cleaned_data["whole_sequence"],
                               count=form.cleaned_data["count"],
                               expected_current_id=form.cleaned_data["expected_current"])
            except LabelConflict as conflict:
                messages.error(request, str(conflict))
                return redirect(request.get_full_path())
            messages.success(request, f"Labelled {form.cleaned_data['taxon'].name_en}.")
            return redirect(request.get_full_path())  # the same image, still within the list it came from
    frames = sequence_frames(image.sequence_id)
    return render(request, "annotation/image_detail.html", {
        "image": image, "history": history, "current": history[0] if history else None, "form": form,
        "editable": editable, "frames": frames[:200], "frame_count": frames.count(),
        "label_boxes": label_boxes(image), **_browse_context(request, image),
    })


def _serve(request: HttpRequest, pk: int, field: str) -> FileResponse:
    image = _image_for(request, pk)
    name = getattr(image, field).name
    if not name or not default_storage.exists(name):
        raise Http404("The stored file is missing.")
    response = FileResponse(default_storage.open(name, "rb"))
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    return _serve(request, pk, "file")


@login_required
def image_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    return _serve(request, pk, "thumbnail")


@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    organisations = _organisations_for(request)
    if not organisations:
        raise PermissionDenied("You are not a member of any organisation yet; ask a coordinator to add you.")
    deployments = Deployment.objects.filter(organisation__in=organisations)
    limits = {key: settings.FAUNE[key] for key in ("MAX_FILES_PER_REQUEST", "MAX_REQUEST_BYTES")}
    return render(request, "annotation/upload.html", {"organisations": organisations,
                                                      "deployments": deployments, "limits": limits})


@login_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_visible_to(request.user).select_related("organisation", "deployment"),
                              pk=pk)
    problems = batch.items.exclude(outcome=BatchOutcome.IMPORTED).select_related("image")
    return render(request, "annotation/batch_detail.html", {
        "batch": batch, "counts": batch_counts(batch), "problems": problems[:1000],
        "running": batch.status in ("queued", "running"),
    })


@login_required
def batch_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(batches_visible_to(request.user).select_related("organisation", "deployment"),
                     50).get_page(request.GET.get("page"))
    return render(request, "annotation/batch_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    organisations = _organisations_for(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]
    refused_status = 400
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # a refusal also takes back the new deployment the form named
                organisation, deployment = upload_target_resolve(
                    user=request.user, organisation_id=data["organisation"], deployment_name=data["deployment_name"])
                upload_allowance_take(organisation=organisation, size=UploadSize(files=1, bytes=data["archive"].size))
            batch = import_archive_accept(archive=data["archive"], organisation=organisation,  # unpacks first
                                          deployment=deployment, user=request.user, fmt=data["format"],
                                          create_taxa=data["create_taxa"], maxlag_s=data["maxlag"])
        except UploadLimitExceeded as error:
            form.add_error(None, str(error))
            refused_status = 429 if error.daily else 413
        except (UnknownClasses, LayoutError, ArchiveRejected, ValidationError, PermissionDenied) as error:
            form.add_error(None, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, "Import accepted; it runs in the background. This page follows it.")
            return redirect("batch-detail", pk=batch.pk)
    return render(request, "annotation/import.html", {"form": form}, status=refused_status if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def taxon_list(request: HttpRequest) -> HttpResponse:
    coordinator = user_access(request.user).coordinator
    form = TaxonForm(request.POST or None)
    if request.method == "POST":
        require_coordinator(request.user, "add taxa")
        if form.is_valid():
            try:
                taxon = taxon_create(**form.cleaned_data, created_by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Added taxon {taxon.name_en}.")
                return redirect("taxon-list")
    taxa = taxa_in_reading_order(Taxon.objects.select_related("parent"))
    return render(request, "annotation/taxa.html", {"taxa": taxa, "form": form, "coordinator": coordinator})


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    """The expert's desk: queues with counts; a task is claimed and worked in the page (keyboard first)."""
    taxa = review_taxa_of(request.user)
    coordinator = taxa is None
    return render(request, "annotation/review.html", {
        "queues": review_queue_counts(taxon_ids=taxa, user=request.user), "taxa": taxa_in_reading_order(),
        "second_opinions": second_opinions_waiting(taxon_ids=taxa),
        "coordinator": coordinator, "conflicts": review_conflicts().count() if coordinator else 0})


@login_required
@require_http_methods(["GET", "POST"])
def review_conflicts_page(request: HttpRequest) -> HttpResponse:
    """Coordinators settle the tasks two experts disagreed on, and read how often experts agree."""
    require_coordinator(request.user, "resolve review conflicts")
    if request.method == "POST":
        _resolve_conflict(request, ConflictResolveForm(request.POST))
        return redirect("review-conflicts")
    page = Paginator(review_conflicts(), 20).get_page(request.GET.get("page"))
    names = dict(Taxon.objects.values_list("pk", "name_en"))
    for task in page:
        task.labels_stamp = sequence_label_stamp(task.sequence_id)
        task.said = [(v.expert.username if v.expert else "—", sorted({names.get(t) for t in v.frames.values()}))
                     for v in task.verdicts.all() if v.kind == "label"]
    return render(request, "annotation/review_conflicts.html", {
        "page": page, "taxa": taxa_in_reading_order(), "report": review_agreement()})


def _resolve_conflict(request: HttpRequest, form: ConflictResolveForm) -> None:
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return
    taxon = form.cleaned_data["taxon"]
    try:
        review_conflict_resolve(task_id=form.cleaned_data["task"], user=request.user,
                                verdict=Verdict(taxon=taxon, expected_current_id=form.cleaned_data["expected_current"]))
    except (ReviewConflict, LabelConflict, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, f"Resolved as {taxon.name_en}.")
