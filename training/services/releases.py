"""Publishing a production version as a release: an immutable folder (weights, class list,
metrics, plots, a model card) whose every file is listed with its sha256, written
completely before the release row exists. Coordinators ask from the page; a job writes the
bundle (see `release_request`)."""

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from annotation.models import TaxonKind
from faune_platform.db import row_lock
from faune_platform.failpoints import failpoint
from faune_platform.files import file_sha256
from faune_platform.jobs import (
    ACTIVE,
    JobDisowned,
    job_alive,
    job_claim,
    job_enqueue,
    job_fail,
    job_finish,
)
from inference.engine.specs import BackboneSpec
from inference.models import BoxSource, Detection, HeadKind, ModelVersion, VersionStatus
from training.models import Release, ReleaseRequest, TrainingRound
from training.services.release_usage import TIMM_FILE, ZERO_SHOT_TABLE, Usage, how_to_use
from training.services.rounds import round_dir

DETECTOR_KINDS = (TaxonKind.HUMAN, TaxonKind.VEHICLE, TaxonKind.EMPTY)

SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def releases_dir() -> Path:
    return Path(settings.DATA_DIR) / "releases"


def _key(semver: str) -> tuple[int, int, int]:
    match = SEMVER.match(semver)
    if match is None:  # callers check the semver first; a stored release's is valid
        raise ValueError(f"{semver!r} is not a semantic version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _classes(version: ModelVersion) -> list[dict[str, Any]]:
    return [
        {
            "index": row.index,
            "slug": row.taxon.slug,
            "name_en": row.taxon.name_en,
            "name_fr": row.taxon.name_fr,
            "scientific_name": row.taxon.scientific_name,
        }
        for row in version.classes.order_by("index").select_related("taxon")
    ]


def _changelog(
    version: ModelVersion, metrics: dict[str, Any], previous: Release | None
) -> dict[str, Any]:
    classes = {row["name_en"] for row in _classes(version)}
    if previous is None:
        return {
            "previous": None,
            "added_classes": sorted(classes),
            "removed_classes": [],
            "metric_deltas": {},
        }
    before = {row["name_en"] for row in _classes(previous.version)}
    old = previous.changelog.get("metrics", {})
    deltas = {
        name: round(metrics[name] - old[name], 5)
        for name in ("accuracy", "macro_f1")
        if name in metrics and name in old
    }
    return {
        "previous": previous.semver,
        "added_classes": sorted(classes - before),
        "removed_classes": sorted(before - classes),
        "metric_deltas": deltas,
    }


def _provenance(version: ModelVersion, training_round: TrainingRound | None) -> list[str]:
    """Only what happened: how many cameras were held out (0 is said as 0), whether a detector runs,
    and where the answers empty, human and vehicle come from."""
    split = training_round.metrics.get("split", {}) if training_round else {}
    cameras, images = split.get("holdout_cameras"), split.get("holdout")
    lines = []
    if training_round and cameras:
        lines.append(
            f"- Whole cameras held out for the out-of-sample figure: {cameras} ({images} images)."
        )
    elif training_round and cameras is not None:
        lines.append(
            "- Whole cameras held out: 0. There is no out-of-sample figure for this version."
        )
    elif training_round:
        lines.append("- Cameras held out: not recorded by this round.")
    accepted = split.get("test_model_accepted_left_out")
    if accepted:
        lines.append(
            f"- {accepted} test images whose label was a model's prediction accepted by a partner "
            "were left out of the test figures (they would favour the model)."
        )
    detector = version.detector
    if detector.get("path"):
        lines.append(
            f"- Detector: YOLO weights (sha256 {detector.get('sha256', '')[:12]}) at "
            f"{detector.get('image_size', 960)} px; the best animal box is cropped square and "
            "classified."
        )
        lines.append("- Empty, human and vehicle come from the detector.")
        return lines
    lines.append(
        "- Detector: none. Images are classified whole, or on a box stored with them "
        "(expert-drawn, imported, or from a MegaDetector file)."
    )
    said = sorted(
        row.taxon.name_en
        for row in version.classes.select_related("taxon")
        if row.taxon.kind in DETECTOR_KINDS
    )
    imported = (
        Detection.objects.filter(source=BoxSource.MEGADETECTOR_JSON)
        .values("image_id")
        .distinct()
        .count()
    )
    if said:
        lines.append(
            f"- {', '.join(said).capitalize()}: classes of this classifier, learned from labelled "
            "frames."
        )
    elif not imported:
        lines.append(
            "- This version cannot say empty, human or vehicle (no detector, and no such class)."
        )
    if imported:
        lines.append(
            (
                f"- On the {imported} images of the pool with imported MegaDetector detections, "
                "empty, human and vehicle come from those detections"
            )
            + (
                "."
                if said
                else "; elsewhere this version cannot say them (no detector, and no such class)."
            )
        )
    return lines


def _model_card(
    version: ModelVersion,
    semver: str,
    training_round: TrainingRound | None,
    changelog: dict[str, Any],
    classes: list[dict[str, Any]],
    folded: dict[str, Any] | None,
) -> str:
    test = training_round.metrics.get("candidate", {}).get("test", {}) if training_round else {}
    per_class = {row["class"]: row for row in test.get("per_class", [])}
    lines = [
        f"# Faune classifier {semver}",
        "",
        f"Model version: {version} ({version.get_head_kind_display()}).",
        f"Backbone: `{version.backbone['timm_name']}` at {version.backbone['input_size']} px, "
        f"{version.backbone.get('interpolation', 'bicubic')} resize, mean "
        f"{version.backbone.get('mean')}, std {version.backbone.get('std')}; temperature "
        f"{version.temperature:.3f}.",
        "",
        "## Data",
        "",
    ]
    if training_round:
        organisations = training_round.snapshot.get("organisations")
        lines += [
            (
                f"Trained in round {training_round.pk} on {training_round.snapshot.get('labels')} "
                "labelled camera-trap images (label snapshot sha256 "
                f"`{training_round.snapshot.get('label_hash')}`)"
            )
            + (f" from {organisations} organisation(s)" if organisations is not None else "")
            + "; split by sequence. Seed and hyper-parameters are in `lineage.json`.",
            "",
        ]
    else:
        lines += [
            "Not trained on the pool (zero-shot or external weights); see the version's notes.",
            "",
        ]
    lines += [*_provenance(version, training_round), ""]
    sequences = (
        training_round.metrics.get("comparison", {}).get("sequences") if training_round else None
    )
    size = (
        f"On {test['count']} test images"
        + (f" ({sequences} sequences)" if sequences else "")
        + ": "
        if "count" in test
        else ""
    )
    lines += [
        "## Test figures",
        "",
        f"{size}accuracy {test.get('accuracy', '—')}, macro-F1 "
        f"{test.get('macro_f1', '—')}, sequence accuracy {test.get('sequence_accuracy', '—')}, ECE "
        f"{test.get('ece', '—')}.",
        "",
        "| class | French | precision | recall | support |",
        "|---|---|---|---|---|",
    ]
    for row in classes:
        figures = per_class.get(row["name_en"], {})
        lines.append(
            f"| {row['name_en']} | {row['name_fr']} | {figures.get('precision', '—')} | "
            f"{figures.get('recall', '—')} | {figures.get('support', '—')} |"
        )
    lines += [
        "",
        "## Known limits",
        "",
        "- Figures come from images of the contributing partners' cameras; other regions, camera "
        "models and seasons can score lower. Classes with little test support have unreliable "
        "figures.",
        "- A sequence whose top score is under the threshold should read 'undefined'.",
        *(
            [
                "- The backbone is DeepFaune's but this head is an MLP: no DeepFaune-format "
                "checkpoint can hold it; use the Faune files (backbone checkpoint + head.pt)."
            ]
            if version.artifacts.get("checkpoint", {}).get("format") == "deepfaune"
            and version.head_kind == HeadKind.TRAINED_HEAD
            and folded is None
            else []
        ),
        "",
        "## Changelog",
        "",
        f"Previous release: {changelog['previous'] or 'none'}.",
        f"Classes added: {', '.join(changelog['added_classes']) or 'none'}.",
        f"Classes removed: {', '.join(changelog['removed_classes']) or 'none'}.",
        "Metric deltas: "
        f"{json.dumps(changelog['metric_deltas']) if changelog['metric_deltas'] else 'none'}.",
        "",
    ]
    return "\n".join(lines)


def _deepfaune_classifier(version: ModelVersion) -> dict[str, Any] | None:
    """For a linear head on a DeepFaune backbone: DeepFaune's own checkpoint format with the head
    folded in, so DeepFaune's software loads the release directly. (A fine-tuned DeepFaune backbone
    is already saved so.)"""
    base = version.artifacts.get("checkpoint", {})
    if version.head_kind != HeadKind.TRAINED_HEAD or base.get("format") != "deepfaune":
        return None
    import torch  # only here: only a DeepFaune backbone needs torch to publish

    from inference.engine.heads import fold_linear_head

    folded = fold_linear_head(version.artifacts["head"]["path"])
    if folded is None:
        return None
    checkpoint = torch.load(base["path"], map_location="cpu", weights_only=True)
    state = dict(checkpoint["state_dict"])
    state["base_model.head.weight"], state["base_model.head.bias"] = folded
    return {
        "args": {**checkpoint["args"], "num_classes": int(folded[0].shape[0])},
        "state_dict": state,
    }


def _artifact_name(role: str, record: dict[str, Any]) -> str:
    return f"{role}{''.join(Path(record['path']).suffixes) or '.bin'}"


def _write_bundle(
    folder: Path,
    version: ModelVersion,
    training_round: TrainingRound | None,
    card: str,
    classes: list[dict[str, Any]],
    folded: dict[str, Any] | None,
    semver: str,
) -> None:
    folder.mkdir(parents=True)
    from inference.services.runtime import artifact_file  # torch: the job's, not the web's

    for role, record in version.artifacts.items():
        shutil.copyfile(artifact_file(role, record), folder / _artifact_name(role, record))
    (folder / "classes.json").write_text(json.dumps(classes, ensure_ascii=False, indent=1))
    (folder / "MODEL_CARD.md").write_text(card)
    _write_usage(folder, version, classes, folded, semver)
    # Public: the label snapshot is named by its hash; its file (a server path) and its image ids
    # stay here.
    lineage = {key: value for key, value in version.lineage.items() if key != "labels_file"}
    (folder / "lineage.json").write_text(
        json.dumps(
            {"version": str(version), "backbone": version.backbone, "lineage": lineage},
            indent=1,
            default=str,
        )
    )
    if folded is not None:
        import torch

        torch.save(folded, folder / "deepfaune-classifier.pt")
    if training_round:
        source = round_dir(training_round.pk)
        for name in ("metrics.json", "confusion.png", "reliability.png", "coverage.png"):
            if (source / name).exists():
                shutil.copyfile(source / name, folder / name)


def _deepfaune_file(version: ModelVersion, folded: dict[str, Any] | None) -> str | None:
    """The bundle's file that DeepFaune's software loads: the folded head, or the version's
    own DeepFaune-format checkpoint (a registered DeepFaune classifier, a fine-tuned
    DeepFaune backbone)."""
    if folded is not None:
        return "deepfaune-classifier.pt"
    checkpoint = version.artifacts.get("checkpoint", {})
    if version.head_kind == HeadKind.CHECKPOINT and checkpoint.get("format") == "deepfaune":
        return _artifact_name("checkpoint", checkpoint)
    return None


def _write_usage(
    folder: Path,
    version: ModelVersion,
    classes: list[dict[str, Any]],
    folded: dict[str, Any] | None,
    semver: str,
) -> None:
    """Weights in timm's layout and HOW_TO_USE.md, whose Python lines load exactly those files."""
    # worker side: the version's classifier is loaded to write its weights in timm's layout
    import torch

    from inference.engine.export import IMAGENET, timm_export
    from inference.engine.zero_shot import IMAGENET_TO_TAXON
    from inference.services.runtime import runner_for

    head = version.artifacts["head"]["path"] if version.head_kind == HeadKind.TRAINED_HEAD else None
    exported = timm_export(
        runner_for(version.pk).classifier, head_path=head, zero_shot=version.is_zero_shot
    )
    torch.save(exported.state_dict, folder / TIMM_FILE)
    if exported.outputs == IMAGENET:
        (folder / ZERO_SHOT_TABLE).write_text(
            json.dumps([IMAGENET_TO_TAXON[row["slug"]] for row in classes])
        )
    usage = Usage(
        semver=semver,
        spec=BackboneSpec.from_dict(version.backbone),
        outputs=exported.outputs,
        num_classes=exported.num_classes,
        temperature=version.temperature,
        classes=classes,
        deepfaune_file=_deepfaune_file(version, folded),
        head_file=_artifact_name("head", version.artifacts["head"]) if head else "head.pt",
    )
    (folder / "HOW_TO_USE.md").write_text(how_to_use(usage))


def _last_release() -> Release | None:
    """The release of the highest version (two publishes at once may end in either order)."""
    return max(Release.objects.all(), key=lambda release: _key(release.semver), default=None)


def _check_semver(semver: str) -> None:
    if not SEMVER.match(semver):
        raise ValidationError(
            _("%(semver)r is not a semantic version such as 1.4.0."), params={"semver": semver}
        )
    previous = _last_release()
    if previous and _key(semver) <= _key(previous.semver):
        raise ValidationError(
            _("%(semver)s must be greater than the last release, %(last)s."),
            params={"semver": semver, "last": previous.semver},
        )
    pending = ReleaseRequest.objects.filter(status__in=ACTIVE).first()
    if pending is not None:
        raise ValidationError(
            _("Release %(semver)s is being published; wait for it to finish."),
            params={"semver": pending.semver},
        )


def release_request(
    *, version: ModelVersion | None, semver: str, user: User | None
) -> ReleaseRequest:
    """A coordinator asks to publish the production version: checked now, written by a job."""
    if version is None or version.status != VersionStatus.PRODUCTION:
        raise ValidationError(
            _("Only the production version can be published, and none is in production.")
        )
    _check_semver(semver)
    try:
        with transaction.atomic():
            request = ReleaseRequest.objects.create(version=version, semver=semver, created_by=user)
            job_enqueue(request, "training.tasks.release_publish_run")
    except IntegrityError:  # another request was made meanwhile (see the model's constraint)
        _check_semver(semver)  # says which, if it is still there
        raise ValidationError(
            _("Another release is being published; wait for it to finish.")
        ) from None
    return request


def release_publish_run(request_id: int, *, token: str) -> None:
    """The job. Running it again after a killed worker starts over in a new staging folder; a
    release that was already created by the killed attempt is simply linked."""
    request = job_claim(ReleaseRequest, request_id, token)
    if request is None:
        return
    try:
        release = Release.objects.filter(
            semver=request.semver, version=request.version
        ).first() or release_publish(
            version=request.version,
            semver=request.semver,
            user=request.created_by,
            on_progress=lambda share: job_alive(request, progress=share),
            staging_tag=token[:8],
        )
    except JobDisowned:  # its own staging folder is removed; the run that owns the job goes on
        return
    except ValidationError as error:
        job_fail(request, " ".join(error.messages))
        return
    except Exception as error:
        job_fail(request, error)
        raise
    job_finish(request, release=release, progress=1.0)


def release_publish(
    *,
    version: ModelVersion,
    semver: str,
    user: User | None,
    on_progress: Callable[[float], object] | None = None,
    staging_tag: str = "now",
) -> Release:
    """Write the bundle in a staging folder of this attempt, then create the row and move the folder
    in place."""
    if version.status != VersionStatus.PRODUCTION:
        raise ValidationError(_("Only the production version can be published; promote it first."))
    if not SEMVER.match(semver):
        raise ValidationError(
            _("%(semver)r is not a semantic version such as 1.4.0."), params={"semver": semver}
        )
    previous = _last_release()
    if previous and _key(semver) <= _key(previous.semver):
        raise ValidationError(
            _("%(semver)s must be greater than the last release, %(last)s."),
            params={"semver": semver, "last": previous.semver},
        )
    progress = on_progress or (lambda share: None)
    training_round = TrainingRound.objects.filter(candidate=version).first()
    metrics = training_round.metrics.get("candidate", {}).get("test", {}) if training_round else {}
    classes = _classes(version)
    changelog = {
        **_changelog(version, metrics, previous),
        "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1") if k in metrics},
    }
    folded = _deepfaune_classifier(version)  # loads the backbone checkpoint: once per publish
    progress(0.3)
    card = _model_card(version, semver, training_round, changelog, classes, folded)
    folder, staging = releases_dir() / semver, releases_dir() / f".{semver}.{staging_tag}.partial"
    _refuse_if_released(semver)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_bundle(staging, version, training_round, card, classes, folded, semver)
        progress(0.8)
        files = {path.name: file_sha256(path) for path in sorted(staging.iterdir())}
        (staging / "SHA256SUMS").write_text(
            "".join(f"{digest}  {name}\n" for name, digest in files.items())
        )
        progress(0.9)
        with transaction.atomic():
            # One attempt at a time from here to its commit: another's folder, moved in place but
            # not yet committed, must not look like one a killed attempt left.
            row_lock(version)
            _refuse_if_released(semver)
            if folder.exists():  # an attempt killed between moving its folder and its commit
                shutil.rmtree(folder)
            release = Release.objects.create(
                version=version,
                semver=semver,
                files=files,
                changelog=changelog,
                model_card=card,
                created_by=user,
            )
            staging.rename(folder)
            failpoint(
                "release.moved"
            )  # the worst moment: the folder in place, its row not yet committed
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_abandoned_staging(semver)
    return release


def _refuse_if_released(semver: str) -> None:
    if Release.objects.filter(semver=semver).exists():
        raise ValidationError(
            _("A release folder for %(semver)s already exists."), params={"semver": semver}
        )


def _remove_abandoned_staging(semver: str) -> None:
    """Staging folders that killed attempts of this release left behind."""
    for leftover in releases_dir().glob(f".{semver}.*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
