"""Any two versions side by side on one round's test split, from the predictions each stored: no re-running."""
import json
from pathlib import Path

import numpy as np

from annotation.models import Annotation, Image, Taxon
from inference.models import ModelVersion
from inference.selectors import stored_logits
from training.engine.metrics import evaluate
from training.engine.splits import TEST, split_of
from training.models import TrainingRound


def _test_labels(training_round: TrainingRound) -> dict[int, int]:
    """image id -> labelled taxon id, for the round's frozen labels that fall in the test split."""
    frozen = json.loads(Path(training_round.snapshot["file"]).read_text())
    taxon_of = dict(Annotation.objects.filter(pk__in=set(frozen["label_ids"])).values_list("pk", "taxon_id"))
    places = {pk: (sequence, deployment) for pk, sequence, deployment in Image.objects.filter(
        pk__in=frozen["image_ids"]).values_list("pk", "sequence_id", "deployment_id")}
    return {image: taxon_of[label] for image, label in zip(frozen["image_ids"], frozen["label_ids"], strict=True)
            if image in places and split_of(*places[image]) == TEST}


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
