"""Reads of the training app that web processes make (no torch, no plotting)."""
import json
from pathlib import Path

from django.db.models import F, Q

from inference.selectors import production_version, versions_trained
from training.models import Release, RoundStatus, TrainingRound


def frozen_split(training_round: TrainingRound) -> dict | None:
    """The labels and split a round froze when it ran (see `services.round_data`); None before it ran."""
    path = Path(training_round.snapshot.get("file", ""))
    return json.loads(path.read_text()) if path.is_file() else None


def learning_curve() -> list[dict]:
    """Each version a round trained, oldest first: labels used, test macro-F1, status, and the releases that
    published it. Each figure is from its own round's test split, which grows with the pool."""
    released: dict[int, list[str]] = {}
    for version_id, semver in Release.objects.order_by("created_at").values_list("version_id", "semver"):
        released.setdefault(version_id, []).append(semver)
    return [{**row, "releases": released.get(row["pk"], [])} for row in versions_trained()]


def production_test_figures() -> dict | None:
    """The newest test figures of the production version: from the round that trained it, or from a later round
    that scored it beside its own candidate on a newer test split. None: no production version, or no round
    scored it (a zero-shot or imported version)."""
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
            return {"version": production, "round": training_round.pk, "finished_at": training_round.finished_at,
                    "count": figures["count"], "macro_f1": figures["macro_f1"], "per_class": figures["per_class"]}
    return None
