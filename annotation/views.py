"""Pages of the labelled pool. Each view checks access through the selectors, then renders."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_http_methods, require_POST

from annotation.browse import (
    SOURCE_CHOICES,
    SOURCE_WORDS,
    browse_neighbours,
    images_browse,
    label_boxes,
)
from annotation.forms import (
    ConflictResolveForm,
    ImageBrowseForm,
    LabelForm,
    ProposalDecisionForm,
    TaxonForm,
)
from annotation.models import (
    Decision,
    Image,
    LabelSource,
    Organisation,
    ProposalStatus,
    Role,
    Taxon,
    TaxonKind,
)
from annotation.permissions import require_coordinator, review_taxa_of, user_access
from annotation.privacy import shown_file
from annotation.selectors import (
    deployments_visible_to,
    image_editable_by,
    label_events,
    label_history,
    review_agreement,
    review_conflicts,
    second_opinions_waiting,
    sequence_frames,
    sequence_label_stamp,
    taxon_proposals,
    visible_image_or_404,
)
from annotation.serializers import decision_data
from annotation.services.annotations import LabelConflict
from annotation.services.proposals import (
    ProposalClosed,
    taxon_proposal_accept,
    taxon_proposal_decline,
)
from annotation.services.reasons import reason_shown
from annotation.services.review import ReviewConflict, review_queue_counts
from annotation.services.taxa import taxon_create
from annotation.services.undo import (
    UndoNotFound,
    UndoRefused,
    decision_undo,
    decisions_undoable,
    label_decided,
)
from annotation.services.verdicts import Verdict, review_conflict_resolve
from annotation.taxon_names import taxa_in_reading_order, taxon_name

PAGE_SIZE = 60


def _organisations_for(request: HttpRequest) -> QuerySet[Organisation]:
    access = user_access(request.user)
    if access.coordinator:
        return Organisation.objects.all()
    return Organisation.objects.filter(pk__in=access.organisation_ids)


# The query-string keys of the image list's filters: its links, its pager and the image page
# carry them.
BROWSE_KEYS = (
    "organisation",
    "deployment",
    "batch",
    "taxon",
    "source",
    "labelled",
    "taken_from",
    "taken_to",
)


def _browse_params(query: QueryDict) -> str:
    kept = QueryDict(mutable=True)
    for key in BROWSE_KEYS:
        if query.get(key):
            kept[key] = query[key]
    return kept.urlencode()


def _name_labels(images: list[Image]) -> None:
    """Give each listed image the taxa its thumbnail names: its label's, else its pre-label's."""
    taxa = Taxon.objects.in_bulk(
        {i.current_taxon_id for i in images} | {i.predicted_taxon_id for i in images} - {None}
    )
    for image in images:
        image.shown_taxon = taxa.get(image.current_taxon_id)
        image.predicted_taxon = taxa.get(image.predicted_taxon_id)
        image.source_word = SOURCE_WORDS.get(image.current_source, image.current_source)


@login_required
def image_list(request: HttpRequest) -> HttpResponse:
    form = ImageBrowseForm(request.GET)
    valid = form.is_valid()
    images = images_browse(request.user, form.browse()) if valid else Image.objects.none()
    page = Paginator(images.select_related("deployment"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    _name_labels(list(page))
    by_model = [
        image for image in page if image.shown_taxon is None and image.predicted_score is not None
    ]
    return render(
        request,
        "annotation/image_list.html",
        {
            "page": page,
            "taxa": taxa_in_reading_order(),
            "deployments": deployments_visible_to(request.user),
            "by_model": bool(by_model),
            "zero_shot": any(image.predicted_zero_shot for image in by_model),
            "organisations": _organisations_for(request),
            "query": request.GET,
            "form": form,
            "sources": SOURCE_CHOICES,
            "refused": form.messages(),
            "filter_params": _browse_params(request.GET),
        },
        status=200 if valid else 400,
    )


def _browse_context(request: HttpRequest, image: Image) -> dict:
    """Where the image sits in the list it was opened from (its filters come along in the
    query string)."""
    form = ImageBrowseForm(request.GET)
    params = _browse_params(request.GET)
    if not form.is_valid():
        return {"browse_params": params, "neighbours": None, "back_url": reverse("image-list")}
    neighbours = browse_neighbours(images_browse(request.user, form.browse()), image)
    back = QueryDict(params, mutable=True)
    if neighbours.position:
        back["page"] = str((neighbours.position - 1) // PAGE_SIZE + 1)
    return {
        "browse_params": params,
        "neighbours": neighbours,
        "back_url": f"{reverse('image-list')}?{back.urlencode()}"
        if back
        else reverse("image-list"),
    }


def _image_for(request: HttpRequest, pk: int) -> Image:
    return visible_image_or_404(request.user, pk, "sequence", "deployment", "organisation")


@login_required
@require_http_methods(["GET", "POST"])
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = _image_for(request, pk)
    editable = image_editable_by(request.user, image)
    current = label_history(image).first()
    form = LabelForm(
        initial={
            "expected_current": current.pk if current else 0,
            "expected_sequence": sequence_label_stamp(image.sequence_id),
        }
    )
    if request.method == "POST":
        if not editable:
            raise PermissionDenied(_("You can see this image but not label it."))
        form = LabelForm(request.POST)
        if form.is_valid():
            try:  # the toast (the undo offer below) says what was saved
                label_decided(
                    image=image,
                    taxon=form.cleaned_data["taxon"],
                    author=request.user,
                    whole_sequence=form.cleaned_data["whole_sequence"],
                    count=form.cleaned_data["count"],
                    expected_current_id=form.cleaned_data["expected_current"],
                    expected_sequence_stamp=form.cleaned_data["expected_sequence"],
                )
            except LabelConflict as conflict:
                messages.error(request, str(conflict))
            return redirect(
                request.get_full_path()
            )  # the same image, still within the list it came from
    frames = sequence_frames(image.sequence_id)
    return render(
        request,
        "annotation/image_detail.html",
        {
            "image": image,
            "history": label_events(image),
            "current": current,
            "form": form,
            "editable": editable,
            "frames": frames[:200],
            "frame_count": frames.count(),
            "label_boxes": label_boxes(image),
            **_browse_context(request, image),
            "undo_offer": _undo_offer(request, image),
            "prelabel_words": _prelabel_words(),
        },
    )


def _prelabel_words() -> dict:
    """What the image page's pre-label panel (inference/prediction-panel.js) writes for people to
    read, in their language; it fills in the {names}."""
    return {
        "no_prelabel": _("No pre-label yet."),
        "model_says": _("Model says"),
        "zero_shot": _("zero-shot"),
        "sequence": _("Sequence:"),
        "undefined": _("undefined"),
        "rollup": _("roll-up: no species over the {threshold} threshold; best {best}"),
        "classified_box": _("Classified within a box: {source}."),
        "accept": _("Accept pre-label (y)"),
        "not_saved": _("Not saved."),
        "cosine": _("cosine {value}"),
        "similar_image": _("similar image"),
        "no_similar": _("No similar image yet."),
        "categories": {value: str(name) for value, name in TaxonKind.choices},
    }


UNDO_OFFER_MINUTES = 30  # an image page offers to undo your own label on it for this long


def _undo_offer(request: HttpRequest, image) -> Decision | None:
    """Your newest decision on this image (or its sequence), still undone-able, made in the
    last minutes."""
    offer = decisions_undoable(user=request.user, limit=1, image=image).first()
    recent = offer is not None and offer.created_at >= timezone.now() - timedelta(
        minutes=UNDO_OFFER_MINUTES
    )
    return offer if recent else None


@login_required
@require_POST
def decision_undo_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo from a page (the image page's toast): back where the person was, saying
    what happened."""
    try:
        undone = decision_undo(decision_id=pk, user=request.user)
    except (UndoRefused, UndoNotFound) as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, undone.undo.summary)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return redirect(back)


def _serve(request: HttpRequest, pk: int, field: str) -> FileResponse:
    # the image alone: the review desk fetches thumbnails by the dozen a minute per expert
    image = visible_image_or_404(request.user, pk)
    name = shown_file(
        request.user, image, field
    )  # people hidden from those outside the organisation
    if not name or not default_storage.exists(name):
        raise Http404(_("The stored file is missing."))
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
@require_http_methods(["GET", "POST"])
def taxon_list(request: HttpRequest) -> HttpResponse:
    coordinator = user_access(request.user).coordinator
    form = TaxonForm(request.POST or None)
    if request.method == "POST":
        require_coordinator(request.user, _("add taxa"))
        if form.is_valid():
            try:
                taxon = taxon_create(**form.cleaned_data, created_by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Added taxon {taxon.name_en}.")
                return redirect("taxon-list")
    taxa = taxa_in_reading_order(Taxon.objects.select_related("parent"))
    return render(
        request, "annotation/taxa.html", {"taxa": taxa, "form": form, "coordinator": coordinator}
    )


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    """The expert's desk: queues with counts; a task is claimed and worked in the page
    (keyboard first)."""
    taxa = review_taxa_of(request.user)
    coordinator = taxa is None
    recent = [decision_data(d) for d in decisions_undoable(user=request.user, limit=RECENT_ON_DESK)]
    return render(
        request,
        "annotation/review.html",
        {
            "queues": review_queue_counts(taxon_ids=taxa, user=request.user),
            "taxa": taxa_in_reading_order(),
            "second_opinions": second_opinions_waiting(taxon_ids=taxa),
            "recent": recent,
            "coordinator": coordinator,
            "conflicts": review_conflicts().count() if coordinator else 0,
            "proposals": taxon_proposals().count() if coordinator else 0,
            "review_words": _review_words(),
        },
    )


RECENT_ON_DESK = 5  # the last verdicts the desk offers to undo


def _review_words() -> dict:
    """What review.js writes for people to read, in their language; it fills in the {names}."""
    return {
        "nothing_waiting": _("Nothing waiting in your queues."),
        # codes the API sends, named for people
        "sources": {value: str(name) for value, name in LabelSource.choices},
        "roles": {value: str(name) for value, name in Role.choices},
        "categories": {value: str(name) for value, name in TaxonKind.choices},
        "choice": _("{role}'s choice"),
        "choice_by": _("{role}'s choice ({author})"),
        "between": pgettext("between items of a list", "; "),
        "queue_empty": _("This queue is empty."),
        "not_labelled": _("Not labelled yet."),
        "an_import": _("an import"),
        "current_label": _("Current label: {taxon} by {who} ({source})"),
        "frame": _("frame {number}"),
        "no_prediction": _("No prediction yet: type the taxon."),
        "enter": _("Enter"),
        "model": _("Model:"),
        "sequence": _("Sequence:"),
        "rollup": _("roll-up: no species over {threshold}"),
        "undefined": _("undefined"),
        "zero_shot": _("zero-shot"),
        "no_references": _("No reference images."),
        "cosine": _("cosine {value}"),
        "labelled": _("labelled {name}"),
        "none_nearby": _("none labelled nearby"),
        "split_next": _("next choice labels frame {number} only"),
        "drawing": _("drag on the frame to draw a box"),
        "split_off": _("{count} frame(s) split off; your next choice labels the others."),
        "your_choice": _("your choice"),
        "box_on_frame": _("box {number} on frame {frame}:"),
        "frame_taxon": _("the frame's taxon"),
        "box_animal": _("animal in box {number}"),
        "box_remove": _("remove box {number}"),
        "none_drawn": _("None drawn."),
        "unknown_box": _("Unknown taxon “{name}” for box {number}: pick one from the list."),
        "taxon": _("taxon"),
        "taxon_seen": _("taxon seen"),
        "unknown_detail": _("Unknown taxon “{name}” under Count and details."),
        "listed_twice": _("{name} is listed twice under Count and details."),
        "press_next": _("Press n for the next task."),
        "undo": _("Undo"),
        "none_yet": _("None yet."),
        "nothing_to_undo": _("Nothing left to undo here."),
        "unknown_taxon": _(
            "Unknown taxon “{name}”: pick one from the list, or press Esc then p to propose it."
        ),
        "play": _("Play (space)"),
        "pause": _("Pause (space)"),
        "viewer": {
            "zoom": _("zoom {percent}%"),
            "light": _("light {percent}%"),
            "contrast": _("contrast {percent}%"),
        },
    }


@login_required
@require_http_methods(["GET", "POST"])
def taxon_proposals_page(request: HttpRequest) -> HttpResponse:
    """Coordinators read the taxa experts proposed, with their frames, and accept (new or existing
    taxon) or decline each."""
    require_coordinator(request.user, _("decide on proposals of new taxa"))
    if request.method == "POST":
        _proposal_decide(request, ProposalDecisionForm(request.POST))
        return redirect("taxon-proposals")
    decided = taxon_proposals("all").exclude(status=ProposalStatus.PENDING)[:20]
    return render(
        request,
        "annotation/taxon_proposals.html",
        {"pending": taxon_proposals(), "decided": decided, "taxa": Taxon.objects.all()},
    )


def _proposal_decide(request: HttpRequest, form: ProposalDecisionForm) -> None:
    if not form.is_valid():
        messages.error(
            request, " ".join(message for errors in form.errors.values() for message in errors)
        )
        return
    data = form.cleaned_data
    try:
        if data["action"] == "decline":
            proposal = taxon_proposal_decline(
                proposal_id=data["proposal"], user=request.user, note=data["note"]
            )
            messages.success(
                request,
                _("Declined “%(name)s”; its task is back in its queue.") % {"name": proposal.name},
            )
            return
        outcome = taxon_proposal_accept(
            proposal_id=data["proposal"],
            user=request.user,
            note=data["note"],
            taxon=data["taxon"] if data["action"] == "map" else None,
            new_taxon=data["new_taxon"],
        )
    except (ProposalClosed, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        return
    _accepted_message(request, outcome)


def _accepted_message(request: HttpRequest, outcome) -> None:
    proposal = outcome.proposal
    messages.success(
        request,
        ngettext(
            "Accepted “%(name)s” as %(taxon)s: %(n)d frame labelled.",
            "Accepted “%(name)s” as %(taxon)s: %(n)d frames labelled.",
            len(outcome.labelled),
        )
        % {"name": proposal.name, "taxon": proposal.taxon.name_en, "n": len(outcome.labelled)},
    )
    if outcome.left_alone:
        messages.warning(
            request,
            _("Left alone, labelled since the proposal: %(frames)s.")
            % {"frames": "; ".join(f"#{pk} {why}" for pk, why in outcome.left_alone.items())},
        )


@login_required
@require_http_methods(["GET", "POST"])
def review_conflicts_page(request: HttpRequest) -> HttpResponse:
    """Coordinators settle the tasks two experts disagreed on, and read how often experts agree."""
    require_coordinator(request.user, _("resolve review conflicts"))
    if request.method == "POST":
        _resolve_conflict(request, ConflictResolveForm(request.POST))
        return redirect("review-conflicts")
    page = Paginator(review_conflicts(), 20).get_page(request.GET.get("page"))
    names = {taxon.pk: taxon_name(taxon) for taxon in Taxon.objects.all()}
    for task in page:
        task.labels_stamp = sequence_label_stamp(task.sequence_id)
        task.reason_shown = reason_shown(task)
        task.said = [
            (
                v.expert.username if v.expert else "—",
                sorted({names.get(t) for t in v.frames.values()}),
            )
            for v in task.verdicts.all()
            if v.kind == "label"
        ]
    return render(
        request,
        "annotation/review_conflicts.html",
        {"page": page, "taxa": taxa_in_reading_order(), "report": review_agreement()},
    )


def _resolve_conflict(request: HttpRequest, form: ConflictResolveForm) -> None:
    if not form.is_valid():
        messages.error(
            request, " ".join(message for errors in form.errors.values() for message in errors)
        )
        return
    taxon = form.cleaned_data["taxon"]
    try:
        review_conflict_resolve(
            task_id=form.cleaned_data["task"],
            user=request.user,
            verdict=Verdict(taxon=taxon, expected_current_id=form.cleaned_data["expected_current"]),
        )
    except (ReviewConflict, LabelConflict, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, f"Resolved as {taxon.name_en}.")
