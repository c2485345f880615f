"""Opening an active-learning batch: read the stored predictions and embeddings of unlabelled
images, pick with a strategy, and put each pick in the review queue of the first of its top 3 taxa
that has an expert (triage when none has).

Coordinators ask from the page or the API (the pick runs as a job, recorded on the batch); the
command runs it at once. A pool too large to scan is first narrowed to the neighbourhood of labelled
images (SEALS style)."""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Mod
from django.utils import timezone
from django.utils.translation import gettext

from annotation.models import WAITING, Image, ReviewState, ReviewTask, Taxon
from annotation.selectors import taxa_with_experts
from annotation.services.reasons import Reason, model_said
from annotation.services.review import (
    ReviewItem,
    review_queue_route,
    review_tasks_create,
    review_tasks_requeue,
)
from faune_platform.boxes import Category
from faune_platform.db import in_chunks
from faune_platform.errors import InputRefused, Worded, gettext_noop
from faune_platform.failpoints import failpoint
from faune_platform.jobs import (
    JobDisowned,
    JobStatus,
    job_alive,
    job_claim,
    job_enqueue,
    job_fail,
    job_finish,
)
from inference.engine.aggregate import class_probabilities
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES, Pool, neighbourhood, select
from inference.engine.stored import from_f16_bytes
from inference.models import ModelVersion, Prediction, SelectionBatch
from inference.selectors import production_version, stored_embeddings
from inference.services.index import search_index

LABELLED_SAMPLE = 20_000  # k-center measures distance to at most this many labelled images


class SelectionError(InputRefused):
    pass


def _unlabelled_predictions(version: ModelVersion, filters: dict[str, Any]) -> QuerySet[Prediction]:
    unlabelled = Image.objects.filter(current_label__isnull=True).exclude(
        sequence__review_tasks__state__in=WAITING
    )
    for key in ("organisation", "deployment"):
        if filters.get(key):
            unlabelled = unlabelled.filter(**{f"{key}_id": filters[key]})
    predictions = Prediction.objects.filter(
        version=version, category=Category.ANIMAL, image__in=unlabelled
    )
    if filters.get("taxon"):
        predictions = predictions.filter(taxon_id=filters["taxon"])
    return predictions


def _candidates(
    version: ModelVersion, filters: dict[str, Any], labelled: np.ndarray | None, seed: int
) -> tuple[list[tuple[Any, ...]], bool]:
    """(image id, logits, sequence id) of the candidates, and whether they were narrowed because
    the pool is larger than SELECTION_SCAN_LIMIT: to the neighbourhood of labelled images (SEALS)
    where an index and labels exist, else to a systematic sample of image ids (every k-th, offset
    by the seed)."""
    predictions = _unlabelled_predictions(version, filters)
    columns = ("image_id", "logits", "image__sequence_id")
    limit = settings.FAUNE["SELECTION_SCAN_LIMIT"]
    count = predictions.count()
    if count <= limit:
        return list(predictions.values_list(*columns)), False
    index = search_index(version.backbone_key) if labelled is not None else None
    if index is None or labelled is None:  # no index, or no labels to search around
        step = math.ceil(count / limit)
        sample = predictions.annotate(bucket=Mod(F("image_id"), step)).filter(bucket=seed % step)
        return list(sample.values_list(*columns)[:limit]), True
    per_image = settings.FAUNE["SELECTION_NEIGHBOURS"]
    anchors = max(
        1, limit // per_image
    )  # each search costs a scan of part of the index: as few as fill the limit
    if len(labelled) > anchors:
        labelled = labelled[
            np.random.default_rng(seed).choice(len(labelled), anchors, replace=False)
        ]
    per_image = max(1, min(per_image, limit // len(labelled)))
    near = neighbourhood(index, labelled, per_image).tolist()
    return in_chunks(predictions, "image_id", near, columns), True


@dataclass
class Labelled:
    """(A sample of) the labelled images the strategies measure against, and the labelled count
    per class."""

    vectors: np.ndarray | None  # (m, d) embeddings, None when nothing is labelled
    labels: np.ndarray  # (m,) current taxon of each
    sequences: np.ndarray  # (m,) sequence of each
    counts: np.ndarray  # (classes,) labelled images per class of the version


def _labelled(version: ModelVersion) -> Labelled:
    order = {
        taxon_id: i
        for i, taxon_id in enumerate(
            version.classes.order_by("index").values_list("taxon_id", flat=True)
        )
    }
    rows = list(
        Image.objects.filter(
            embeddings__backbone_key=version.backbone_key, current_label__isnull=False
        ).values_list("pk", "current_taxon_id", "sequence_id")
    )
    counts = np.zeros(len(order), dtype=np.int64)
    for _, taxon_id, _ in rows:
        if taxon_id in order:
            counts[order[taxon_id]] += 1
    if len(rows) > LABELLED_SAMPLE:  # spread, not oldest
        rows = [
            rows[i]
            for i in np.random.default_rng(0).choice(len(rows), LABELLED_SAMPLE, replace=False)
        ]
    found, vectors = stored_embeddings(version.backbone_key, [pk for pk, _, _ in rows])
    rows = [row for row, kept in zip(rows, found, strict=True) if kept]
    return Labelled(
        vectors[found] if rows else None,
        np.array([taxon for _, taxon, _ in rows]),
        np.array([sequence for _, _, sequence in rows]),
        counts,
    )


def _production() -> ModelVersion:
    version = production_version()
    if version is None:
        raise SelectionError(
            gettext("No production model: selection works on its predictions and embeddings.")
        )
    return version


def _check(strategy: str, size: int) -> None:
    if strategy not in STRATEGIES:
        raise SelectionError(
            gettext("Unknown strategy %(strategy)r; choose one of %(strategies)s.")
            % {"strategy": strategy, "strategies": ", ".join(STRATEGIES)}
        )
    if not 1 <= size <= 10_000:
        raise SelectionError(gettext("A batch holds between 1 and 10,000 items."))


def selection_batch_request(
    *,
    user: User | None,
    strategy: str = DEFAULT_STRATEGY,
    size: int = 100,
    filters: dict[str, Any] | None = None,
    seed: int = 0,
) -> SelectionBatch:
    """Record a coordinator's request and queue the pick as a job (large pools take a while
    to read)."""
    _check(strategy, size)
    with transaction.atomic():
        batch = SelectionBatch.objects.create(
            created_by=user,
            strategy=strategy,
            size=size,
            filters=filters or {},
            seed=seed,
            version=_production(),
        )
        job_enqueue(batch, "inference.tasks.selection_batch_run")
    return batch


def selection_batch_open(
    *,
    user: User | None,
    strategy: str = DEFAULT_STRATEGY,
    size: int = 100,
    filters: dict[str, Any] | None = None,
    seed: int = 0,
) -> SelectionBatch:
    """Pick now (the command's path): the batch is recorded only when the pick succeeds."""
    _check(strategy, size)
    batch = SelectionBatch(
        created_by=user,
        strategy=strategy,
        size=size,
        filters=filters or {},
        seed=seed,
        version=_production(),
        status=JobStatus.RUNNING,
    )
    _pick(batch)
    return batch


def selection_batch_run(batch_id: int, *, token: str) -> None:
    """The job: claim the queued batch, pick, record; a failure is written on the batch for the
    page. Picking again after a killed worker is harmless: the tasks are written with the batch, in
    one transaction."""
    batch = job_claim(SelectionBatch, batch_id, token)
    if not isinstance(batch, SelectionBatch):  # None: another task owns it (or it ended)
        return
    try:
        _pick(batch)
    except JobDisowned:  # the run that owns the batch goes on
        return
    except SelectionError as error:
        job_fail(batch, str(error))
    except Exception as error:
        job_fail(batch, error)
        raise


def _alive(batch: SelectionBatch) -> None:
    """A heartbeat between the long steps of a pick (the command's batch, unsaved, has none)."""
    if batch.pk is not None:
        job_alive(batch)


def _pick(batch: SelectionBatch) -> None:
    version = batch.version
    if version is None:  # deleted while the batch waited in the queue (SET_NULL)
        raise SelectionError(
            gettext("The model version this batch was asked of was deleted; ask for a new batch.")
        )
    labelled = _labelled(version)
    _alive(batch)
    rows, restricted = _candidates(version, batch.filters, labelled.vectors, batch.seed)
    rows = [row for row in rows if row[1]]
    _alive(batch)
    found, vectors = stored_embeddings(version.backbone_key, [row[0] for row in rows])
    if not found.all():  # a copy only when some image has no embedding yet
        rows, vectors = [row for row, kept in zip(rows, found, strict=True) if kept], vectors[found]
    if not rows:
        raise SelectionError(
            gettext("No unlabelled, pre-labelled image matches; nothing to select.")
        )
    logits = np.stack([from_f16_bytes(row[1]) for row in rows])
    probabilities = class_probabilities(
        logits, temperature=version.temperature, renormalise=not version.is_zero_shot
    )
    pool = Pool(
        ids=np.array([row[0] for row in rows]),
        embeddings=vectors,
        probabilities=probabilities,
        sequences=np.array([row[2] for row in rows]),
        labelled=labelled.vectors,
        rarity=labelled.counts,
        labelled_labels=labelled.labels,
        labelled_sequences=labelled.sequences,
    )
    picked = select(
        pool,
        batch.strategy,
        batch.size,
        seed=batch.seed,
        duplicate_cosine=settings.FAUNE["NEAR_DUPLICATE_COSINE"],
    )
    batch.picked = [
        [int(i), round(float(s), 5)] for i, s in zip(picked.ids, picked.scores, strict=True)
    ]
    batch.candidates, batch.restricted = len(rows), restricted
    failpoint("selection.picked")
    with transaction.atomic():
        if batch.pk is None:  # the command's path: recorded only now that the pick succeeded
            batch.status, batch.finished_at = JobStatus.DONE, timezone.now()
            batch.save()
        # a run the sweep gave to another (a pick slower than the heartbeat's limit) records
        # nothing: the run that owns the batch writes its own picks and tasks
        elif not job_finish(
            batch, picked=batch.picked, candidates=batch.candidates, restricted=restricted
        ):
            return
        review_tasks_create(items=_review_items(version, batch), origin=f"selection:{batch.pk}")


def _route(
    prediction: Prediction, taxa: dict[int, Taxon], expert_taxa: frozenset[int]
) -> tuple[int | None, Reason]:
    """The queue of a pick: the first of its prediction's top 3 taxa that has an expert (triage when
    none has), and what the model said, for the task's reason."""
    top = [(taxa[taxon_id], p) for taxon_id, p in prediction.top[:3] if taxon_id in taxa]
    route = review_queue_route(taxa=[taxon for taxon, _ in top], expert_taxa=expert_taxa)
    return route.queue_taxon_id, [model_said(top), route.why]


def _top_taxa(predictions: Iterable[Prediction]) -> dict[int, Taxon]:
    """Every taxon in the top 3 of these predictions, read in one query."""
    ids = {taxon_id for prediction in predictions for taxon_id, _ in prediction.top[:3]}
    return Taxon.objects.in_bulk(ids)


def _review_items(version: ModelVersion, batch: SelectionBatch) -> list[ReviewItem]:
    picked = [image_id for image_id, _ in batch.picked]
    predictions = {
        p.image_id: p
        for p in Prediction.objects.filter(version=version, image_id__in=picked).select_related(
            "image"
        )
    }
    taxa, expert_taxa = _top_taxa(predictions.values()), taxa_with_experts()
    picked_by = Worded(gettext_noop("%(strategy)s pick"), {"strategy": batch.strategy})
    items = []
    for image_id, score in batch.picked:
        queue, why = _route(predictions[image_id], taxa, expert_taxa)
        items.append(
            ReviewItem(
                image=predictions[image_id].image,
                queue_taxon=taxa.get(queue) if queue else None,
                reason=[picked_by, *why],
                score=score,
            )
        )
    return items


def review_queues_refresh(*, version: ModelVersion) -> int:
    """After a promotion: move the open, unclaimed tasks that selection created to the queue the new
    version's prediction points to (the first of its top 3 taxa that has an expert, else triage).
    Returns how many moved."""
    tasks = ReviewTask.objects.filter(state=ReviewState.OPEN, origin__startswith="selection:")
    predictions = {
        p.image_id: p
        for p in Prediction.objects.filter(
            version=version, category=Category.ANIMAL, image_id__in=tasks.values("image_id")
        )
    }
    taxa, expert_taxa = _top_taxa(predictions.values()), taxa_with_experts()
    requeued = Worded(gettext_noop("re-queued by %(version)s"), {"version": str(version)})
    moves = {}
    for task in tasks.only("pk", "image_id", "queue_taxon_id", "score"):
        prediction = predictions.get(task.image_id)
        if prediction is None:
            continue
        queue, why = _route(prediction, taxa, expert_taxa)
        if queue != task.queue_taxon_id:
            moves[task.pk] = (queue, [requeued, *why], task.score)
    return review_tasks_requeue(moves=moves)
