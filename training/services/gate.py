"""The promotion gate: a candidate replaces production on its own only when it is no worse where it matters."""
from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"promote": self.promote, "reasons": self.reasons}


def promotion_gate(metrics: dict) -> GateDecision:
    """Pass when macro-F1 does not drop and no class with enough test support loses more than the allowed recall."""
    max_recall_drop, min_support = settings.FAUNE["GATE_MAX_RECALL_DROP"], settings.FAUNE["GATE_MIN_SUPPORT"]
    candidate = metrics["candidate"]["test"]
    production = metrics.get("production", {}).get("test")
    if production is None:
        return GateDecision(False, ["the production version has no predictions on this test split to compare"])
    reasons = []
    if candidate["macro_f1"] < production["macro_f1"]:
        reasons.append(f"macro-F1 drops from {production['macro_f1']:.4f} to {candidate['macro_f1']:.4f}")
    before = {row["class"]: row for row in production["per_class"]}
    for row in candidate["per_class"]:
        old = before.get(row["class"])
        if old and old["support"] >= min_support and old["recall"] - row["recall"] > max_recall_drop:
            reasons.append(f"{row['class']}: recall drops from {old['recall']:.3f} to {row['recall']:.3f}")
    return GateDecision(not reasons, reasons)
