"""Pages of the training app: rounds (start, follow, cancel, read their evaluation), the model
versions with their figures and the confirmed status changes, comparisons, and releases."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation.permissions import require_coordinator, user_access
from faune_platform.converters import id_or_none
from faune_platform.jobs import JobStatus
from inference.models import ModelStatusChange, ModelVersion, VersionStatus
from inference.selectors import production_version
from inference.services.registry import LostClasses, RegistryError, model_version_set_status
from training.markdown import render_markdown
from training.models import Release, ReleaseRequest, TrainingRound
from training.selectors import figures_on_round, status_change_preview, version_figures
from training.services.compare import versions_compare
from training.services.release_archive import archive_name, release_archive
from training.services.releases import release_request, releases_dir
from training.services.rounds import (
    DEFAULTS,
    HEAD_KINDS,
    RoundBusy,
    round_dir,
    training_round_cancel,
    training_round_start,
)

PLOTS = ("confusion.png", "reliability.png", "coverage.png")


@login_required
@require_http_methods(["GET", "POST"])
def round_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        require_coordinator(request.user, _("run retraining rounds"))
        head = (
            request.POST.get("head") if request.POST.get("head") in HEAD_KINDS else DEFAULTS["head"]
        )
        mode = "finetune" if request.POST.get("mode") == "finetune" else "head"
        try:
            training_round = training_round_start(
                user=request.user, params={"head": head, "mode": mode}
            )
        except RoundBusy as error:
            messages.error(request, str(error))
            return redirect("round-list")
        return redirect("round-detail", pk=training_round.pk)
    return render(
        request,
        "training/rounds.html",
        {
            "rounds": TrainingRound.objects.select_related("candidate")[:100],
            "coordinator": user_access(request.user).coordinator,
        },
    )


def _deltas(metrics: dict) -> list[dict]:
    """Per-class rows of the candidate with the production version's figures beside them."""
    production = {
        row["class"]: row
        for row in metrics.get("production", {}).get("test", {}).get("per_class", [])
    }
    rows = []
    for row in metrics.get("candidate", {}).get("test", {}).get("per_class", []):
        before = production.get(row["class"])
        rows.append(
            {
                **row,
                "production_recall": before["recall"] if before else None,
                "recall_delta": round(row["recall"] - before["recall"], 4) if before else None,
            }
        )
    return rows


@login_required
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    training_round = get_object_or_404(
        TrainingRound.objects.select_related("candidate", "parent"), pk=pk
    )
    folder = round_dir(pk)
    return render(
        request,
        "training/round_detail.html",
        {
            "round": training_round,
            "running": training_round.status in ("queued", "running"),
            "candidate": training_round.metrics.get("candidate", {}).get("test"),
            "production": training_round.metrics.get("production", {}).get("test"),
            "gate": training_round.metrics.get("gate"),
            "rows": _deltas(training_round.metrics),
            "metrics": training_round.metrics,
            "comparison": training_round.metrics.get("comparison"),
            "plots": [name for name in PLOTS if (folder / name).exists()],
            "coordinator": user_access(request.user).coordinator,
        },
    )


@login_required
def round_plot(request: HttpRequest, pk: int, name: str) -> FileResponse:
    path = round_dir(pk) / name
    if name not in PLOTS or not path.exists():
        raise Http404(_("No such plot."))
    return FileResponse(path.open("rb"), content_type="image/png")


@login_required
@require_POST
def round_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    require_coordinator(request.user, _("run retraining rounds"))
    training_round_cancel(training_round=get_object_or_404(TrainingRound, pk=pk))
    messages.success(
        request,
        _("Cancellation requested; the round stops at its next epoch and registers nothing."),
    )
    return redirect("round-detail", pk=pk)


@require_http_methods(["GET", "POST"])
def release_list(request: HttpRequest) -> HttpResponse:
    """Public: anyone reads releases and downloads them. Coordinators ask to publish the production
    version here; a job writes the bundle and this page follows it."""
    coordinator = user_access(request.user).coordinator
    if request.method == "POST":
        require_coordinator(request.user, _("publish releases"))
        try:
            asked = release_request(
                version=production_version(),
                semver=request.POST.get("semver", "").strip(),
                user=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Publishing %(semver)s: the bundle is being written (this page follows it).")
                % {"semver": asked.semver},
            )
        return redirect("release-list")
    requests = (
        ReleaseRequest.objects.select_related("version").exclude(status=JobStatus.DONE)[:5]
        if coordinator
        else []
    )
    return render(
        request,
        "training/releases.html",
        {
            "releases": Release.objects.select_related("version"),
            "coordinator": coordinator,
            "production": production_version(),
            "requests": requests,
            "publishing": any(r.active for r in requests),
        },
    )


def release_detail(request: HttpRequest, semver: str) -> HttpResponse:
    """Public. The model card and the instructions are Markdown, rendered safely
    (see `training.markdown`)."""
    release = get_object_or_404(Release.objects.select_related("version"), semver=semver)
    how_to = releases_dir() / release.semver / "HOW_TO_USE.md"
    return render(
        request,
        "training/release_detail.html",
        {
            "release": release,
            "card": render_markdown(release.model_card, heading_offset=2),
            "how_to": render_markdown(how_to.read_text())
            if "HOW_TO_USE.md" in release.files and how_to.is_file()
            else None,
        },
    )


def release_download(request: HttpRequest, semver: str) -> StreamingHttpResponse:
    """Public: the whole release as one zip, streamed."""
    release = get_object_or_404(Release, semver=semver)
    folder = releases_dir() / release.semver
    if not folder.is_dir():
        raise Http404(_("This release's files are missing on the server."))
    response = StreamingHttpResponse(
        release_archive(release, folder=folder), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{archive_name(release)}"'
    return response


def release_file(request: HttpRequest, semver: str, name: str) -> FileResponse:
    release = get_object_or_404(Release, semver=semver)
    path = releases_dir() / release.semver / name
    if name not in release.files and name != "SHA256SUMS" or not path.is_file():
        raise Http404(_("No such file in this release."))
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=f"faune-{release.semver}-{name}"
    )


@login_required
def round_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two versions on the round's test split; by default the round's own pair (production of the
    day against its candidate), whose figures are then exactly the round page's."""
    training_round = get_object_or_404(
        TrainingRound.objects.select_related("candidate", "parent"), pk=pk
    )
    versions = list(ModelVersion.objects.all())
    by_id = {str(v.pk): v for v in versions}
    chosen = {
        "a": by_id.get(request.GET.get("a", "")) or training_round.parent,
        "b": by_id.get(request.GET.get("b", "")) or training_round.candidate,
    }
    result = None
    if chosen["a"] and chosen["b"]:
        result = versions_compare(training_round=training_round, a=chosen["a"], b=chosen["b"])
    return render(
        request,
        "training/compare.html",
        {"round": training_round, "versions": versions, "chosen": chosen, "result": result},
    )


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    versions = list(ModelVersion.objects.prefetch_related("classes__taxon"))
    figures = version_figures(versions)
    for version in versions:
        version.figures = figures.get(version.pk)
    return render(
        request,
        "training/models.html",
        {
            "versions": versions,
            "coordinator": user_access(request.user).coordinator,
            "changes": ModelStatusChange.objects.select_related("version", "changed_by")[:50],
        },
    )


def _next_page(request: HttpRequest) -> str:
    """Where to go back to after the confirmation step: a page of this site, else the
    models page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        return target
    return reverse("model-list")


@login_required
@require_http_methods(["GET", "POST"])
def model_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Promote, roll back, reject or archive, always through a confirmation step that says what will
    happen (a page, not a script dialog: it works from the keyboard and without JavaScript). A POST
    that did not come from that step shows it instead of acting."""
    require_coordinator(request.user, _("change which model is in production"))
    version = get_object_or_404(ModelVersion, pk=pk)
    status = request.POST.get("status") or request.GET.get("status") or ""
    preview = status_change_preview(version=version, status=status)
    if request.method == "POST" and request.POST.get("confirm") == "1" and "refused" not in preview:
        shown = {
            id_or_none(value) for value in request.POST.getlist("lost")
        }  # the lost classes the step listed
        try:
            model_version_set_status(
                version=version,
                status=status,
                user=request.user,
                note=request.POST.get("note", "")[:300],
                confirm_lost_classes={row["taxon"] for row in preview["lost"]} <= shown,
            )
        except (LostClasses, RegistryError) as error:
            messages.error(
                request, str(error)
            )  # the pool or production changed since the step was shown
        else:
            messages.success(
                request,
                _("%(version)s is now %(status)s.")
                % {"version": version, "status": VersionStatus(status).label},
            )
            return redirect(_next_page(request))
        preview = status_change_preview(version=version, status=status)
    return render(
        request,
        "training/model_confirm.html",
        {
            "version": version,
            "status": status,
            "preview": preview,
            "next": _next_page(request),
            "rows": _confirm_figures(version, preview.get("current")),
            "rolling_back": version.status == VersionStatus.ARCHIVED,
        },
        status=400 if "refused" in preview else 200,
    )


def _confirm_figures(version: ModelVersion, current: ModelVersion | None) -> dict:
    """The version's test figures and production's, on one round's test images when a round
    scored both."""
    own = version_figures([version]).get(version.pk)
    if own is None or current is None or current.pk == version.pk:
        return {"version": own, "production": None, "same_round": False}
    training_round = TrainingRound.objects.get(pk=own["round"])
    on_same = figures_on_round(training_round, current)
    return {
        "version": own,
        "production": on_same or version_figures([current]).get(current.pk),
        "same_round": on_same is not None,
        "round": training_round,
    }
