"""Pages of the training app: rounds (start, follow, cancel, read their evaluation)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.permissions import require_coordinator, user_access
from faune_platform.jobs import JobStatus
from inference.models import ModelVersion
from inference.selectors import production_version
from training.models import Release, ReleaseRequest, TrainingRound
from training.services.compare import versions_compare
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
        require_coordinator(request.user, "run retraining rounds")
        head = request.POST.get("head") if request.POST.get("head") in HEAD_KINDS else DEFAULTS["head"]
        mode = "finetune" if request.POST.get("mode") == "finetune" else "head"
        try:
            training_round = training_round_start(user=request.user, params={"head": head, "mode": mode})
        except RoundBusy as error:
            messages.error(request, str(error))
            return redirect("round-list")
        return redirect("round-detail", pk=training_round.pk)
    return render(request, "training/rounds.html", {"rounds": TrainingRound.objects.select_related("candidate")[:100],
                                                    "coordinator": user_access(request.user).coordinator})


def _deltas(metrics: dict) -> list[dict]:
    """Per-class rows of the candidate with the production version's figures beside them."""
    production = {row["class"]: row for row in metrics.get("production", {}).get("test", {}).get("per_class", [])}
    rows = []
    for row in metrics.get("candidate", {}).get("test", {}).get("per_class", []):
        before = production.get(row["class"])
        rows.append({**row, "production_recall": before["recall"] if before else None,
                     "recall_delta": round(row["recall"] - before["recall"], 4) if before else None})
    return rows


@login_required
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    training_round = get_object_or_404(TrainingRound.objects.select_related("candidate", "parent"), pk=pk)
    folder = round_dir(pk)
    return render(request, "training/round_detail.html", {
        "round": training_round, "running": training_round.status in ("queued", "running"),
        "candidate": training_round.metrics.get("candidate", {}).get("test"),
        "production": training_round.metrics.get("production", {}).get("test"),
        "gate": training_round.metrics.get("gate"), "rows": _deltas(training_round.metrics),
        "metrics": training_round.metrics, "comparison": training_round.metrics.get("comparison"),
        "plots": [name for name in PLOTS if (folder / name).exists()],
        "coordinator": user_access(request.user).coordinator,
    })


@login_required
def round_plot(request: HttpRequest, pk: int, name: str) -> FileResponse:
    path = round_dir(pk) / name
    if name not in PLOTS or not path.exists():
        raise Http404("No such plot.")
    return FileResponse(path.open("rb"), content_type="image/png")


@login_required
@require_POST
def round_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    require_coordinator(request.user, "run retraining rounds")
    training_round_cancel(training_round=get_object_or_404(TrainingRound, pk=pk))
    messages.success(request, "Cancellation requested; the round stops at its next epoch and registers nothing.")
    return redirect("round-detail", pk=pk)


@require_http_methods(["GET", "POST"])
def release_list(request: HttpRequest) -> HttpResponse:
    """Public: anyone reads releases and downloads them. Coordinators ask to publish the production version
    here; a job writes the bundle and this page follows it."""
    coordinator = user_access(request.user).coordinator
    if request.method == "POST":
        require_coordinator(request.user, "publish releases")
        try:
            asked = release_request(version=production_version(), semver=request.POST.get("semver", "").strip(),
                                    user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Publishing {asked.semver}: the bundle is being written (this page "
                                      "follows it).")
        return redirect("release-list")
    requests = ReleaseRequest.objects.select_related("version").exclude(status=JobStatus.DONE)[:5] \
        if coordinator else []
    return render(request, "training/releases.html", {
        "releases": Release.objects.select_related("version"), "coordinator": coordinator,
        "production": production_version(), "requests": requests,
        "publishing": any(r.active for r in requests)})


def release_detail(request: HttpRequest, semver: str) -> HttpResponse:
    release = get_object_or_404(Release.objects.select_related("version"), semver=semver)
    return render(request, "training/release_detail.html", {"release": release})


def release_file(request: HttpRequest, semver: str, name: str) -> FileResponse:
    release = get_object_or_404(Release, semver=semver)
    path = releases_dir() / release.semver / name
    if name not in release.files and name != "SHA256SUMS" or not path.is_file():
        raise Http404("No such file in this release.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"faune-{release.semver}-{name}")


@login_required
def round_compare(request: HttpRequest, pk: int) -> HttpResponse:
    training_round = get_object_or_404(TrainingRound, pk=pk)
    versions = list(ModelVersion.objects.all())
    chosen = {key: next((v for v in versions if str(v.pk) == request.GET.get(key)), None) for key in ("a", "b")}
    result = None
    if chosen["a"] and chosen["b"] and training_round.snapshot.get("file"):
        result = versions_compare(training_round=training_round, a=chosen["a"], b=chosen["b"])
    return render(request, "training/compare.html", {"round": training_round, "versions": versions,
                                                     "chosen": chosen, "result": result})
