"""Pages of the inference app: pre-labels to accept or correct in bulk, the model registry, active
learning and possibly new taxa."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from annotation.models import Image, Organisation, Taxon
from annotation.permissions import require_coordinator
from annotation.selectors import deployments_visible_to, images_visible_to
from annotation.taxon_names import taxa_in_reading_order, taxon_name
from faune_platform.converters import id_or_none
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES
from inference.models import ModelVersion, NoveltyScan, SelectionBatch
from inference.selectors import (
    novelty_cluster_members,
    novelty_cluster_rows,
    novelty_scan_latest,
    novelty_scan_shown,
    production_version,
    with_prediction,
)
from inference.serializers import (
    NoveltyClusterLabelSerializer,
    NoveltyScanRequestSerializer,
    SelectionRequestSerializer,
    selection_batch_rows,
)
from inference.services.acceptance import prelabels_accept
from inference.services.novelty import NoveltyScanError, novelty_cluster_label, novelty_scan_request
from inference.services.selection import SelectionError, selection_batch_request

PAGE_SIZE = 60


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _filtered(request: HttpRequest, version: ModelVersion) -> QuerySet[Image]:
    query = request.GET
    images = with_prediction(images_visible_to(request.user), version).filter(
        predicted_score__isnull=False
    )
    if (taxon := id_or_none(query.get("taxon"))) is not None:
        images = images.filter(predicted_taxon_id=taxon)
    if (deployment := id_or_none(query.get("deployment"))) is not None:
        images = images.filter(deployment_id=deployment)
    if (low := _float_or_none(query.get("min_score"))) is not None:
        images = images.filter(predicted_score__gte=low)
    if (high := _float_or_none(query.get("max_score"))) is not None:
        images = images.filter(predicted_score__lte=high)
    if query.get("labelled") == "no":
        images = images.filter(current_taxon_id__isnull=True)
    return images.order_by("predicted_score" if query.get("order") == "score" else "-created_at")


@login_required
@require_http_methods(["GET", "POST"])
def prelabel_list(request: HttpRequest) -> HttpResponse:
    version = production_version()
    if version is None:
        return render(request, "inference/prelabels.html", {"version": None})
    if request.method == "POST":
        return _bulk_label(request)
    page = Paginator(_filtered(request, version).select_related("deployment"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    taxa = taxa_in_reading_order()
    by_id = {t.pk: t for t in taxa}
    for image in page:
        image.predicted_taxon = by_id.get(image.predicted_taxon_id)
        image.current_taxon = by_id.get(image.current_taxon_id)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "inference/prelabels.html",
        {
            "version": version,
            "page": page,
            "taxa": taxa,
            "deployments": deployments_visible_to(request.user),
            "query": request.GET,
            "filter_params": params.urlencode(),
        },
    )


def _bulk_label(request: HttpRequest) -> HttpResponse:
    """Accept or correct the ticked images; each carries the label id the page showed as current, so
    an image someone labelled meanwhile is left alone and reported."""
    ids = [pk for pk in map(id_or_none, request.POST.getlist("images")) if pk is not None]
    expected = {pk: id_or_none(request.POST.get(f"current-{pk}")) or 0 for pk in ids}
    taxon = Taxon.objects.filter(pk=id_or_none(request.POST.get("taxon"))).first()
    result = prelabels_accept(user=request.user, image_ids=ids, taxon=taxon, expected=expected)
    messages.success(request, _accepted_message(len(result.labelled), taxon))
    if result.conflicts:
        messages.error(
            request,
            _(
                "%(count)s image(s) left alone, labelled by someone else since this page loaded: "
                "%(reasons)s"
            )
            % {
                "count": len(result.conflicts),
                "reasons": " ".join(list(result.conflicts.values())[:3]),
            },
        )
    return redirect(request.get_full_path())


def _accepted_message(done: int, taxon: Taxon | None) -> str:
    if not done:
        return _("Nothing selected that you may label.")
    if taxon:
        return _("Corrected to %(taxon)s %(count)s image(s).") % {
            "taxon": taxon_name(taxon),
            "count": done,
        }
    return _("Accepted the pre-label of %(count)s image(s).") % {"count": done}


@login_required
@require_http_methods(["GET", "POST"])
def selection_page(request: HttpRequest) -> HttpResponse:
    """Coordinators open active-learning batches and compare how the strategies paid off."""
    require_coordinator(request.user, _("open selection batches"))
    if request.method == "POST":
        form = SelectionRequestSerializer(data={k: v for k, v in request.POST.items() if v != ""})
        if form.is_valid():
            _request_selection(request, form)
        else:
            messages.error(
                request, "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
            )
        return redirect("selection")
    batches = list(SelectionBatch.objects.select_related("version", "created_by")[:100])
    return render(
        request,
        "inference/selection.html",
        {
            "rows": selection_batch_rows(batches),
            "strategies": STRATEGIES,
            "default_strategy": DEFAULT_STRATEGY,
            "version": production_version(),
            "organisations": Organisation.objects.all(),
            "taxa": taxa_in_reading_order(),
            "busy": any(b.active for b in batches),
        },
    )


def _request_selection(request: HttpRequest, form: SelectionRequestSerializer) -> None:
    data = form.validated_data
    try:
        batch = selection_batch_request(
            user=request.user,
            strategy=data["strategy"],
            size=data["size"],
            filters=form.filters(),
            seed=data["seed"],
        )
    except (
        SelectionError
    ) as error:  # e.g. no production model yet: the page says so instead of failing
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Batch %(id)s queued: %(size)s picks with %(strategy)s.")
            % {"id": batch.pk, "size": data["size"], "strategy": data["strategy"]},
        )


def _filled(request: HttpRequest) -> dict[str, str]:
    """The form's fields that were filled in (an empty field means "not given", as in the API)."""
    return {key: value for key, value in request.POST.items() if value != ""}


def _form_errors(form: serializers.Serializer) -> str:
    return "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in form.errors.items())


@login_required
@require_http_methods(["GET", "POST"])
def novelty_page(request: HttpRequest) -> HttpResponse:
    """Coordinators scan for possibly new taxa and see the clusters of the latest finished scan; the
    page refreshes itself while a scan runs."""
    require_coordinator(request.user, _("look for possibly new taxa"))
    if request.method == "POST":
        _request_scan(request)
        return redirect("novelty")
    latest, shown = novelty_scan_latest(), novelty_scan_shown()
    return render(
        request,
        "inference/novelty.html",
        {
            "version": production_version(),
            "latest": latest,
            "scan": shown,
            "rows": novelty_cluster_rows(shown) if shown else [],
            "busy": bool(latest and latest.active),
        },
    )


def _request_scan(request: HttpRequest) -> None:
    form = NoveltyScanRequestSerializer(data=_filled(request))
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return
    try:
        scan = novelty_scan_request(user=request.user, seed=form.validated_data["seed"])
    except (
        NoveltyScanError
    ) as error:  # no production model, or a scan still running: the page says so
        messages.error(request, str(error))
    else:
        messages.success(request, _("Scan %(id)s queued; this page follows it.") % {"id": scan.pk})


@login_required
@require_http_methods(["GET", "POST"])
def novelty_cluster_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """All the members of one cluster, and the form that names its taxon and labels it."""
    require_coordinator(request.user, _("label possibly-new clusters"))
    scan = get_object_or_404(NoveltyScan.objects.select_related("version"), pk=pk, status="done")
    members = novelty_cluster_members(scan, number)
    if members is None:
        raise Http404(
            _("Scan %(id)s has no cluster %(number)s.") % {"id": scan.pk, "number": number}
        )
    if request.method == "POST":
        _label_cluster(request, scan, number)
        return redirect("novelty-cluster", pk=scan.pk, number=number)
    return render(
        request,
        "inference/novelty_cluster.html",
        {
            "scan": scan,
            "number": number,
            "members": members,
            "taxa": taxa_in_reading_order(),
            "outcome": scan.clusters[number - 1]["outcome"],
            "outliers": sum(m["outlier"] for m in members),
        },
    )


def _label_cluster(request: HttpRequest, scan: NoveltyScan, number: int) -> None:
    form = NoveltyClusterLabelSerializer(data=_filled(request))
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return
    try:
        result = novelty_cluster_label(
            user=request.user,
            scan=scan,
            number=number,
            taxon=form.chosen_taxon(),
            new_taxon=form.new_taxon(),
        )
    except ValidationError as error:  # e.g. a taxon of that name exists already
        messages.error(request, " ".join(error.messages))
        return
    except NoveltyScanError as error:
        messages.error(request, str(error))
        return
    messages.success(
        request,
        _("Labelled %(count)s image(s) %(taxon)s; %(review)s outlier(s) sent to review.")
        % {
            "count": len(result.labelled),
            "taxon": taxon_name(result.taxon),
            "review": len(result.review),
        },
    )
    if result.conflicts:
        messages.error(
            request,
            _("%(count)s image(s) left alone, labelled by someone else since the scan: %(reasons)s")
            % {
                "count": len(result.conflicts),
                "reasons": " ".join(list(result.conflicts.values())[:3]),
            },
        )
