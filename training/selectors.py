"""Reads of the training app that web processes make (no torch, no plotting)."""

import json
from pathlib import Path
from typing import Any

from django.db.models import F, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotation.models import Image, ReviewState, ReviewTask
from inference.models import ModelVersion, VersionStatus
from inference.selectors import production_version, promotion_warnings, versions_trained
from training.models import Release, RoundStatus, TrainingRound

FIGURES = ("accuracy", "macro_f1", "count")


def frozen_split(training_round: TrainingRound) -> dict[str, Any] | None:
    """The labels and split a round froze when it ran (see `services.round_data`); None before
    it ran."""
    path = Path(training_round.snapshot.get("file", ""))
    return json.loads(path.read_text()) if path.is_file() else None


def learning_curve() -> list[dict[str, Any]]:
    """Each version a round trained, oldest first: labels used, test macro-F1, status, and the
    releases that published it. Each figure is from its own round's test split, which grows with
    the pool."""
    released: dict[int, list[str]] = {}
    for version_id, semver in Release.objects.order_by("created_at").values_list(
        "version_id", "semver"
    ):
        released.setdefault(version_id, []).append(semver)
    return [{**row, "releases": released.get(row["pk"], [])} for row in versions_trained()]


def production_test_figures() -> dict[str, Any] | None:
    """The newest test figures of the production version: from the round that trained it, or from a
    later round that scored it beside its own candidate on a newer test split. None: no production
    version, or no round scored it (a zero-shot or imported version)."""
    production = production_version()
    if production is None:
        return None
    scored = Q(candidate=production) | Q(parent=production)
    newest_first = (F("finished_at").desc(nulls_last=True), "-pk")
    rounds = TrainingRound.objects.filter(scored, status=RoundStatus.DONE).order_by(*newest_first)
    for training_round in rounds.only("pk", "candidate_id", "finished_at", "metrics")[:5]:
        side = "candidate" if training_round.candidate_id == production.pk else "production"
        figures = training_round.metrics.get(side, {}).get("test")
        if figures and figures.get("per_class"):
            return {
                "version": production,
                "round": training_round.pk,
                "finished_at": training_round.finished_at,
                "count": figures["count"],
                "macro_f1": figures["macro_f1"],
                "per_class": figures["per_class"],
            }
    return None


def _figures(training_round: TrainingRound, role: str) -> dict[str, Any] | None:
    test = training_round.metrics.get(role, {}).get("test")
    if not test:
        return None
    return {**{key: test.get(key) for key in FIGURES}, "round": training_round.pk, "role": role}


def version_figures(versions: list[ModelVersion]) -> dict[int, dict[str, Any]]:
    """{version id: its test figures}, from the round that trained it, else from the newest round
    that scored it as the production version of the day. Figures of two versions are comparable only
    when they come from the same round (the same test images): the round is named with them."""
    wanted = {v.pk for v in versions}
    found: dict[int, dict[str, Any]] = {}
    rounds = TrainingRound.objects.filter(status=RoundStatus.DONE).only(
        "pk", "candidate_id", "parent_id", "metrics"
    )
    for role, field in (("candidate", "candidate_id"), ("production", "parent_id")):
        for training_round in rounds.filter(**{f"{field}__in": wanted - set(found)}).order_by(
            "-pk"
        ):
            version_id = getattr(training_round, field)
            if version_id not in found and (figures := _figures(training_round, role)):
                found[version_id] = figures
    return found


def figures_on_round(training_round: TrainingRound, version: ModelVersion) -> dict[str, Any] | None:
    """A version's figures on this round's test split, when the round scored it."""
    if version.pk == training_round.candidate_id:
        return _figures(training_round, "candidate")
    if version.pk == training_round.parent_id:
        return _figures(training_round, "production")
    return None


def status_change_preview(*, version: ModelVersion, status: str) -> dict[str, Any]:
    """What changing `version` to `status` will do, in words, for the confirmation step; `refused`
    when the registry would refuse it (the production version is never demoted directly)."""
    if status not in (VersionStatus.PRODUCTION, VersionStatus.REJECTED, VersionStatus.ARCHIVED):
        return {"refused": _("Unknown change %(status)r.") % {"status": status}}
    if version.status == status:
        return {
            "refused": _("%(version)s is already %(status)s.")
            % {"version": version, "status": status}
        }
    if version.status == VersionStatus.PRODUCTION:
        return {
            "refused": _(
                "The production version cannot be demoted directly; promote another version "
                "instead."
            )
        }
    if status != VersionStatus.PRODUCTION:
        return {"effects": _set_aside_effects(version, status), "lost": []}
    current = production_version()
    return {
        "effects": _promotion_effects(version, current),
        "lost": promotion_warnings(version=version),
        "current": current,
    }


def _set_aside_effects(version: ModelVersion, status: str) -> list[str]:
    verdict = (
        _("rejected (judged not good enough)")
        if status == VersionStatus.REJECTED
        else _("archived (set aside)")
    )
    return [
        _("%(version)s is marked %(verdict)s. Its files stay, and it can still be promoted later.")
        % {"version": version, "verdict": verdict},
        _("Production does not change; nothing is re-predicted."),
        _("The change is recorded with your name and the note below."),
    ]


def _promotion_effects(version: ModelVersion, current: ModelVersion | None) -> list[str]:
    images = Image.objects.count()
    tasks = ReviewTask.objects.filter(
        state=ReviewState.OPEN, origin__startswith="selection:"
    ).count()
    effects = [
        _("%(version)s becomes the production version: every new upload is pre-labelled by it.")
        % {"version": version}
    ]
    if current is not None:
        effects.append(
            _("%(current)s, in production now, is archived; you can roll back to it later.")
            % {"current": current}
        )
    effects.append(
        ngettext(
            "The pool's %(count)d image is pre-labelled again by %(version)s in the background, "
            "newest first.",
            "The pool's %(count)d images are pre-labelled again by %(version)s in the background, "
            "newest first.",
            images,
        )
        % {"count": images, "version": version}
    )
    if tasks:
        effects.append(
            ngettext(
                "%(count)d open review task from active learning moves to the queue its new "
                "prediction points to.",
                "%(count)d open review tasks from active learning move to the queues their new "
                "predictions point to.",
                tasks,
            )
            % {"count": tasks}
        )
    effects.append(_("The change is recorded with your name and the note below."))
    return effects
