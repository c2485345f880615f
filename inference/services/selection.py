"""Opening an active-learning batch: read the stored predictions and embeddings of unlabelled images, pick with a
strategy, and put each pick in the review queue of its predicted taxon (low scores go to triage)."""
import numpy as np
from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import Image, ReviewState, Taxon
from annotation.selectors import with_current_label
from annotation.services.review import ReviewItem, review_tasks_create
from inference.engine.aggregate import class_probabilities
from inference.engine.selection import STRATEGIES, Pool, select
from inference.engine.stored import from_f16_bytes
from inference.models import Embedding, ModelVersion, Prediction, SelectionBatch, VersionStatus

LABELLED_SAMPLE = 20_000  # k-center measures distance to at most this many labelled images


class SelectionError(Exception):
    http_status = 400


def _candidates(version: ModelVersion, filters: dict) -> list[tuple]:
    unlabelled = with_current_label(Image.objects.all()).filter(current_taxon_id__isnull=True).exclude(
        sequence__review_tasks__state=ReviewState.OPEN)
    for key in ("organisation", "deployment"):
        if filters.get(key):
            unlabelled = unlabelled.filter(**{f"{key}_id": filters[key]})
    predictions = Prediction.objects.filter(version=version, category="animal", image__in=unlabelled)
    if filters.get("taxon"):
        predictions = predictions.filter(taxon_id=filters["taxon"])
    return list(predictions.values_list("image_id", "logits", "image__sequence_id"))


def _vectors(backbone_key: str, image_ids: list[int]) -> dict[int, np.ndarray]:
    rows = Embedding.objects.filter(backbone_key=backbone_key, image_id__in=image_ids).values_list("image_id", "vector")
    return {image_id: from_f16_bytes(vector) for image_id, vector in rows}


def _labelled(version: ModelVersion) -> tuple[np.ndarray | None, np.ndarray]:
    """Embeddings of (a sample of) labelled images, and how many labels each class of the version has."""
    order = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    labelled = list(with_current_label(Image.objects.filter(embeddings__backbone_key=version.backbone_key))
                    .filter(current_taxon_id__isnull=False).values_list("pk", "current_taxon_id"))
    counts = np.zeros(len(order), dtype=np.int64)
    for _, taxon_id in labelled:
        if taxon_id in order:
            counts[order.index(taxon_id)] += 1
    sample = [pk for pk, _ in labelled[:LABELLED_SAMPLE]]
    vectors = list(_vectors(version.backbone_key, sample).values())
    return (np.stack(vectors) if vectors else None), counts


def selection_batch_open(*, user: User | None, strategy: str = "hybrid", size: int = 100, filters: dict | None = None,
                         seed: int = 0) -> SelectionBatch:
    if strategy not in STRATEGIES:
        raise SelectionError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    version = ModelVersion.objects.filter(status=VersionStatus.PRODUCTION).first()
    if version is None:
        raise SelectionError("No production model: selection works on its predictions and embeddings.")
    filters = filters or {}
    rows = _candidates(version, filters)
    vectors = _vectors(version.backbone_key, [row[0] for row in rows])
    rows = [row for row in rows if row[0] in vectors and row[1]]
    if not rows:
        raise SelectionError("No unlabelled, pre-labelled image matches; nothing to select.")
    logits = np.stack([from_f16_bytes(row[1]) for row in rows])
    probabilities = class_probabilities(logits, temperature=version.temperature, renormalise=not version.is_zero_shot)
    labelled, rarity = _labelled(version)
    pool = Pool(ids=np.array([row[0] for row in rows]), embeddings=np.stack([vectors[row[0]] for row in rows]),
                probabilities=probabilities, sequences=np.array([row[2] for row in rows]), labelled=labelled,
                rarity=rarity)
    picked = select(pool, strategy, size, seed=seed)
    return _record(user, strategy, size, filters, seed, version, picked, len(rows))


def _record(user, strategy, size, filters, seed, version, picked, candidates: int) -> SelectionBatch:
    predictions = {p.image_id: p for p in Prediction.objects.filter(version=version, image_id__in=picked.ids.tolist())
                   .select_related("image__organisation")}
    taxa = Taxon.objects.in_bulk([p.taxon_id for p in predictions.values()])
    with transaction.atomic():
        batch = SelectionBatch.objects.create(
            created_by=user, strategy=strategy, size=size, filters=filters, seed=seed, version=version,
            picked=[[int(i), round(float(s), 5)] for i, s in zip(picked.ids, picked.scores, strict=True)],
            candidates=candidates)
        items = []
        for image_id, score in zip(picked.ids.tolist(), picked.scores.tolist(), strict=True):
            prediction = predictions[image_id]
            sure = prediction.score >= prediction.image.organisation.undefined_threshold
            items.append(ReviewItem(image=prediction.image, queue_taxon=taxa.get(prediction.taxon_id) if sure else None,
                                    reason=f"{strategy} pick (model score {prediction.score:.2f})", score=score))
        review_tasks_create(items=items, origin=f"selection:{batch.pk}")
    return batch
