"""The promotion gate: a candidate replaces production on its own only when the evidence says it is
no worse.

Both versions were scored on the same test images (see `round_data.evaluate_round`). The gate asks:
- can the candidate still say everything production says that the pool holds labels of?
- is the macro-F1 difference, with its paired bootstrap interval over test sequences, above -margin?
- does any class with enough test support lose more recall than allowed? (Classes under the support
  minimum are listed as not judged rather than passed in silence.)"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    not_judged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reasons": self.reasons, "not_judged": self.not_judged}


def _lost(metrics: dict[str, Any]) -> list[str]:
    return [
        (
            f"cannot say {row['name']}, which production says and the pool holds {row['labels']} "
            "label(s) of"
        )
        for row in metrics.get("lost_classes", [])
    ]


def _difference(metrics: dict[str, Any]) -> list[str]:
    comparison, margin = metrics.get("comparison"), settings.FAUNE["GATE_MACRO_F1_MARGIN"]
    if not comparison or not comparison["sequences"]:
        return ["the test split holds no image to compare the two versions on"]
    if comparison["low"] >= -margin:
        return []
    return [
        f"macro-F1 difference {comparison['difference']:+.4f}, {comparison['level']:.0%} interval "
        f"[{comparison['low']:+.4f}, {comparison['high']:+.4f}] over {comparison['sequences']} "
        f"test sequences: it may be a drop larger than {margin}"
    ]


def _recalls(candidate: dict[str, Any], production: dict[str, Any]) -> tuple[list[str], list[str]]:
    max_drop, min_support = (
        settings.FAUNE["GATE_MAX_RECALL_DROP"],
        settings.FAUNE["GATE_MIN_SUPPORT"],
    )
    before = {row["class"]: row for row in production["per_class"]}
    reasons, not_judged = [], []
    for row in candidate["per_class"]:
        old = before.get(row["class"])
        if old is None or not row["support"]:
            continue
        if row["support"] < min_support:
            not_judged.append(f"{row['class']} ({row['support']} test images)")
        elif old["recall"] - row["recall"] > max_drop:
            reasons.append(
                f"{row['class']}: recall drops from {old['recall']:.3f} to {row['recall']:.3f}"
            )
    return reasons, not_judged


def promotion_gate(metrics: dict[str, Any]) -> GateDecision:
    candidate = metrics["candidate"]["test"]
    production = metrics.get("production", {}).get("test")
    if production is None:
        return GateDecision(False, ["production was not scored on this round's test split"])
    recall_reasons, not_judged = _recalls(candidate, production)
    reasons = _lost(metrics) + _difference(metrics) + recall_reasons
    return GateDecision(not reasons, reasons, not_judged)
