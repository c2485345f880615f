"""Any two versions side by side on one round's test split, scored exactly as the round scores (see
`scoring`): the same items, the same classes, the same figures, and the paired bootstrap of their
macro-F1 difference.

No version is run here (this is a web process). A version's logits come from what the round saved
for the two versions it scored (its candidate, which has never run on the pool until promoted, and
the production version of the day), else from the predictions the version stored. Items one side has
no logits for are left out of both sides, and the result says how many and why."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from inference.models import ModelVersion
from inference.selectors import stored_logits
from training.engine.comparison import paired_macro_f1_bootstrap
from training.models import TrainingRound
from training.selectors import frozen_split
from training.services.rounds import DEFAULTS, round_dir
from training.services.scoring import TestItems, saved_test_logits, test_figures, test_items

SHOWN = ("count", "accuracy", "macro_f1", "sequence_accuracy", "ece")


@dataclass(frozen=True)
class Side:
    version: ModelVersion
    logits: dict[int, np.ndarray]  # image id -> logits in the round's class order
    source: str  # where they came from, said on the page


def round_items(training_round: TrainingRound) -> TestItems | None:
    frozen = frozen_split(training_round)
    if frozen is None:
        return None
    return test_items(
        frozen, min_labels=int(training_round.params.get("min_labels", DEFAULTS["min_labels"]))
    )


def _side(training_round: TrainingRound, version: ModelVersion, items: TestItems) -> Side:
    for role, version_id in (
        ("candidate", training_round.candidate_id),
        ("production", training_round.parent_id),
    ):
        if version.pk == version_id and (
            saved := saved_test_logits(round_dir(training_round.pk), role=role)
        ):
            return Side(version, saved, _("the logits this round scored it with"))
    return Side(
        version,
        stored_logits(version, items.image_ids.tolist(), items.classes),
        _("its stored predictions"),
    )


def _left_out(sides: list[Side], items: TestItems) -> list[dict[str, Any]]:
    rows = []
    for side in sides:
        missing = sum(1 for i in items.image_ids.tolist() if i not in side.logits)
        if missing:
            rows.append({"version": str(side.version), "count": missing})
    return rows


def versions_compare(
    *, training_round: TrainingRound, a: ModelVersion, b: ModelVersion
) -> dict[str, Any]:
    """Both versions scored on the round's test items that both have logits for; B − A for
    the difference."""
    items = round_items(training_round)
    if items is None or not len(items):
        return {"images": 0, "detail": _("This round kept no test split to score versions on.")}
    strangers = [
        str(v)
        for v in (a, b)
        if not set(v.classes.values_list("taxon_id", flat=True)) & set(items.classes)
    ]
    if strangers:
        return {
            "images": 0,
            "detail": _("%(versions)s says none of this round's classes.")
            % {"versions": ", ".join(strangers)},
        }
    sides = [_side(training_round, a, items), _side(training_round, b, items)]
    shared = np.array(
        [i in sides[0].logits and i in sides[1].logits for i in items.image_ids.tolist()],
        dtype=bool,
    )
    result = {
        "test_images": len(items),
        "images": int(shared.sum()),
        "left_out": _left_out(sides, items),
    }
    if not shared.any():
        return {
            **result,
            "detail": _(
                "No test image of this round can be scored for both versions: a candidate is only "
                "run on the pool once promoted, and this round scored neither of them."
            ),
        }
    kept = TestItems(
        items.image_ids[shared],
        items.y[shared],
        items.sequence_ids[shared],
        items.classes,
        items.names,
    )
    logits = [np.stack([side.logits[i] for i in kept.image_ids.tolist()]) for side in sides]
    figures = [
        test_figures(kept, logits=values, temperature=side.version.temperature)
        for values, side in zip(logits, sides, strict=True)
    ]
    difference = paired_macro_f1_bootstrap(
        kept.y,
        logits[1].argmax(axis=1),
        logits[0].argmax(axis=1),
        kept.sequence_ids,
        num_classes=len(kept.classes),
        seed=training_round.seed,
    )
    return {
        **result,
        "classes": len(kept.classes),
        "difference": difference.as_dict(),
        "a": _summary(sides[0], figures[0]),
        "b": _summary(sides[1], figures[1]),
        "per_class": _per_class(figures),
    }


def _summary(side: Side, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": str(side.version),
        "status": side.version.status,
        "source": side.source,
        **{key: figures[key] for key in SHOWN},
    }


def _per_class(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "class": ra["class"],
            "support": ra["support"],
            "recall_a": ra["recall"],
            "recall_b": rb["recall"],
            "recall_delta": round(rb["recall"] - ra["recall"], 4),
            "precision_a": ra["precision"],
            "precision_b": rb["precision"],
        }
        for ra, rb in zip(figures[0]["per_class"], figures[1]["per_class"], strict=True)
        if ra["support"]
    ]
