"""Deployments (one camera at one site for a period): the list, and a page that shows and edits what
the field team recorded and lists the camera's images and sequences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from annotation.forms_deployments import DeploymentCreateForm, DeploymentForm
from annotation.models import Deployment, Image, Organisation, Sequence
from annotation.permissions import user_access
from annotation.selectors import deployments_visible_to, images_visible_to
from annotation.services.organisations import (
    DEPLOYMENT_DETAILS,
    deployment_ensure,
    deployment_update,
)
from faune_platform.converters import id_or_none

# Dated frames in the order they were taken, undated ones after them (SQLite would put NULL
# dates first).
TAKEN_ORDER = (F("taken_at").asc(nulls_last=True), "pk")
DEPLOYMENTS_PER_PAGE = 50
IMAGES_PER_PAGE = 48
SEQUENCES_PER_PAGE = 20


def _contributable(request: HttpRequest) -> QuerySet[Organisation]:
    """The organisations whose cameras the user may add and edit."""
    access = user_access(request.user)
    organisations = Organisation.objects.all()
    return (
        organisations
        if access.coordinator
        else organisations.filter(pk__in=access.organisation_ids)
    )


@login_required
@require_http_methods(["GET", "POST"])
def deployment_list(request: HttpRequest) -> HttpResponse:
    organisations = _contributable(request)
    form = DeploymentCreateForm(request.POST or None)
    form.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]
    if request.method == "POST" and form.is_valid():
        organisation = organisations.get(
            pk=form.cleaned_data["organisation"]
        )  # a listed choice: the form checked
        try:
            deployment, created = deployment_ensure(
                organisation=organisation, name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            form.add_error("name", error)
        else:
            if created:
                messages.success(
                    request,
                    _("Added %(name)s: now record where and how the camera stands.")
                    % {"name": deployment.name},
                )
                return redirect("deployment-detail", pk=deployment.pk)
            form.add_error(
                "name",
                _("%(organisation)s already has a deployment of this name.")
                % {"organisation": organisation.name},
            )
    deployments = (
        deployments_visible_to(request.user)
        .select_related("organisation")
        .annotate(image_count=Count("images"))
        .order_by("organisation__name", "name")
    )
    if (organisation_id := id_or_none(request.GET.get("organisation"))) is not None:
        deployments = deployments.filter(organisation_id=organisation_id)
    page = Paginator(deployments, DEPLOYMENTS_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "annotation/deployments.html",
        {
            "page": page,
            "form": form,
            "organisations": organisations,
            "filter_params": params.urlencode(),
            "query": request.GET,
            "visible_organisations": Organisation.objects.filter(
                pk__in=deployments_visible_to(request.user).values("organisation_id")
            ),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = get_object_or_404(
        deployments_visible_to(request.user).select_related("organisation"), pk=pk
    )
    editable = user_access(request.user).can_contribute_to(deployment.organisation_id)
    form = DeploymentForm(
        initial={field: getattr(deployment, field) for field in DEPLOYMENT_DETAILS}
    )
    if request.method == "POST":
        if not editable:
            raise PermissionDenied(_("You can see this deployment but not change it."))
        form = DeploymentForm(request.POST)
        if form.is_valid():
            try:
                deployment_update(deployment=deployment, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Saved the details of %(name)s.") % {"name": form.cleaned_data["name"]},
                )
                return redirect("deployment-detail", pk=pk)
    images = (
        images_visible_to(request.user)
        .filter(deployment=deployment)
        .select_related("current_taxon")
    )
    return render(
        request,
        "annotation/deployment_detail.html",
        {
            "deployment": deployment,
            "form": form,
            "editable": editable,
            "summary": _summary(deployment, images),
            "images": Paginator(images.order_by(*TAKEN_ORDER), IMAGES_PER_PAGE).get_page(
                request.GET.get("page")
            ),
            "sequences": _sequence_page(deployment, request.GET.get("spage")),
            "page_params": _without(request, "page"),
            "spage_params": _without(request, "spage"),
        },
        status=400 if form.errors else 200,
    )


def _without(request: HttpRequest, name: str) -> str:
    params = request.GET.copy()
    params.pop(name, None)
    return params.urlencode()


def _summary(deployment: Deployment, images: QuerySet[Image]) -> dict:
    """How many images, over which dates, and how many fall outside set-up to pick-up (a wrong
    camera clock shows here first)."""
    summary = images.aggregate(
        total=Count("pk"),
        labelled=Count("pk", filter=Q(current_taxon__isnull=False)),
        first=Min("taken_at"),
        last=Max("taken_at"),
        sequences=Count("sequence", distinct=True),
    )
    outside = Q()
    if deployment.start:
        outside |= Q(taken_at__lt=deployment.start)
    if deployment.end:
        outside |= Q(taken_at__gt=deployment.end)
    summary["outside"] = images.filter(outside).count() if outside else 0
    return summary


def _sequence_page(deployment: Deployment, number: str | None) -> Page:
    """A page of the camera's sequences, each with its frame count, first frame and
    current labels."""
    first_frame = (
        Image.objects.filter(sequence=OuterRef("pk")).order_by(*TAKEN_ORDER).values("pk")[:1]
    )
    sequences = (
        Sequence.objects.filter(deployment=deployment)
        .annotate(frames=Count("images"), first_frame=Subquery(first_frame))
        .order_by(F("start").asc(nulls_last=True), "pk")
    )
    page = Paginator(sequences, SEQUENCES_PER_PAGE).get_page(number)
    labels: dict[int, list[str]] = {}
    shown = Image.objects.filter(
        sequence_id__in=[sequence.pk for sequence in page], current_taxon__isnull=False
    )
    for sequence_id, name in (
        shown.values_list("sequence_id", "current_taxon__name_en")
        .distinct()
        .order_by("current_taxon__name_en")
    ):
        labels.setdefault(sequence_id, []).append(name)
    for sequence in page:
        sequence.labels = labels.get(sequence.pk, [])
    return page
