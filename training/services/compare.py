"""Any two versions side by side on one round's test split, from the predictions each stored: no re-running.
The split is the one the round froze (see `round_data`), whatever has merged or moved since."""
import numpy as np

from annotation.models import Annotation, Image, Taxon
from faune_platform.db import in_chunks
from inference.models import ModelVersion
from inference.selectors import stored_logits
from training.engine.metrics import evaluate
from training.engine.splits import TEST, split_of
from training.models import TrainingRound
from training.selectors import frozen_split


def _test_labels(training_round: TrainingRound) -> dict[int, int]:
    """image id -> labelled taxon id, for the round's frozen labels on its frozen (independent) test side."""
    frozen = frozen_split(training_round) or {"image_ids": [], "label_ids": []}
    taxon_of = dict(in_chunks(Annotation.objects.all(), "pk", set(frozen["label_ids"]), ("pk", "taxon_id")))
    sides = frozen.get("sides") or _sides_from_today(frozen["image_ids"])
    accepted = frozen.get("model_accepted") or [False] * len(sides)
    rows = zip(frozen["image_ids"], frozen["label_ids"], sides, accepted, strict=True)
    return {image: taxon_of[label] for image, label, side, was_accepted in rows
            if side == TEST and not was_accepted and label in taxon_of}


def _sides_from_today(image_ids: list[int]) -> list[str]:
    """Rounds made before splits were frozen kept only their image ids: their sides are worked out from today's
    sequences (a merge since then may have moved a few frames)."""
    places = {pk: (sequence, deployment) for pk, sequence, deployment in in_chunks(
        Image.objects.all(), "pk", image_ids, ("pk", "sequence_id", "deployment_id"))}
    return [split_of(*places[i]) if i in places else "" for i in image_ids]


def versions_compare(*, training_round: TrainingRound, a: ModelVersion, b: ModelVersion) -> dict:
    labels = _test_labels(training_round)
    taxa = sorted({*a.classes.values_list("taxon_id", flat=True), *b.classes.values_list("taxon_id", flat=True)})
    first, second = stored_logits(a, list(labels), taxa), stored_logits(b, list(labels), taxa)
    shared = sorted(set(first) & set(second) & {i for i, t in labels.items() if t in taxa})
    if not shared:
        return {"images": 0, "detail": "the two versions share no predicted test image of this round"}
    names = dict(Taxon.objects.filter(pk__in=taxa).values_list("pk", "name_en"))
    y = np.array([taxa.index(labels[i]) for i in shared])
    figures = [evaluate(y, np.stack([found[i] for i in shared]), [names[t] for t in taxa], temperature=v.temperature)
               for found, v in ((first, a), (second, b))]
    rows = [{"class": ra["class"], "support": ra["support"], "recall_a": ra["recall"], "recall_b": rb["recall"],
             "recall_delta": round(rb["recall"] - ra["recall"], 4), "precision_a": ra["precision"],
             "precision_b": rb["precision"]}
            for ra, rb in zip(figures[0]["per_class"], figures[1]["per_class"], strict=True) if ra["support"]]
    return {"images": len(shared), "a": {"version": str(a), "accuracy": figures[0]["accuracy"],
                                         "macro_f1": figures[0]["macro_f1"]},
            "b": {"version": str(b), "accuracy": figures[1]["accuracy"], "macro_f1": figures[1]["macro_f1"]},
            "per_class": rows}
