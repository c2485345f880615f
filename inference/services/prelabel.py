"""Pre-labelling images with a version: pick each image's box, classify the crop, store the top
classes, the logits and the embedding, then refresh the verdicts of the sequences touched.
Re-running adds nothing twice (one prediction per image and version, one embedding per image and
backbone), so a crashed job just resumes.

An image whose embedding of this backbone was computed on the crop it would get today is not run
through the backbone again: its stored embedding goes through the version's classifier alone (a
promoted head round re-predicts a pool in seconds instead of hours).

Worker-only: imports torch through the runtime."""

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from django.conf import settings
from django.db import transaction

from annotation.models import Image, MediaKind, Taxon
from annotation.services.stored_files import local_file
from faune_platform.boxes import Box, Category
from inference.engine.aggregate import FrameResult, aggregate_sequence, class_probabilities
from inference.engine.preprocess import CropRequest, load_crop, to_tensor, video_frames
from inference.engine.stored import from_f16_bytes, to_f16_bytes
from inference.models import BoxSource, Embedding, ModelVersion, Prediction, SequencePrediction
from inference.services.boxes import BoxChoice, choose_boxes, detector_taxa
from inference.services.index import index_add
from inference.services.runtime import Runner, runner_for

logger = logging.getLogger(__name__)
REUSE_CHUNK = 2000  # stored embeddings classified per step of the fast path
SEQUENCE_CHUNK = 500  # sequences whose verdicts are refreshed per query
SEQUENCE_TOP = (
    10  # best classes stored per verdict: a family's sum read back from them misses little
)


@dataclass
class Outcome:
    image: Image
    choice: BoxChoice
    logits: np.ndarray
    embedding: np.ndarray | None  # None: the stored embedding was reused, nothing new to store


@dataclass
class Context:
    """What every step of one job needs: the built model and the taxa its outputs and
    categories mean."""

    version: ModelVersion
    runner: Runner | None  # None: only sequence verdicts are refreshed, nothing is run
    classes: list[Taxon]
    category_taxa: dict[str, Taxon | None]

    @property
    def built(self) -> Runner:
        """The runner, for the steps that run the model."""
        if self.runner is None:
            raise RuntimeError(
                f"{self.version} was not built: a verdict context only aggregates stored "
                "predictions (use context_for to run the model)"
            )
        return self.runner


def context_for(version: ModelVersion) -> Context:
    runner = runner_for(version.pk)
    taxa = {taxon.slug: taxon for taxon in Taxon.objects.all()}
    return Context(version, runner, [taxa[slug] for slug in runner.class_slugs], detector_taxa())


def verdict_context(version: ModelVersion) -> Context:
    """Enough to aggregate stored predictions into sequence verdicts, without building the model."""
    classes = [row.taxon for row in version.classes.order_by("index").select_related("taxon")]
    return Context(version, None, classes, detector_taxa())


def _pixels(image: Image, choice: BoxChoice, runner: Runner) -> torch.Tensor | None:
    """The crop (or a video's sampled frames) as a batch; None when the stored file cannot be read,
    so one damaged file is logged and skipped instead of stopping the whole job."""
    try:
        with local_file(image.file) as path:
            if image.kind == MediaKind.VIDEO:
                frames = video_frames(str(path))
                return (
                    torch.stack([to_tensor(frame, runner.spec) for frame in frames])
                    if frames
                    else None
                )
            return load_crop(CropRequest(str(path), choice.box), runner.spec).unsqueeze(0)
    except (OSError, ValueError) as error:
        logger.warning("image %s (%s) cannot be pre-labelled: %s", image.pk, image.file.name, error)
        return None


@dataclass
class Pending:
    images: list[Image]
    choices: list[BoxChoice]
    pixels: list[Future[torch.Tensor | None]]


def _submit(
    images: list[Image], choices: list[BoxChoice], runner: Runner, pool: ThreadPoolExecutor
) -> Pending:
    """Decode pixels in the pool, so the next batch is read while the current one runs through
    the model."""
    futures = [
        pool.submit(_pixels, image, choice, runner)
        for image, choice in zip(images, choices, strict=True)
    ]
    return Pending(images, choices, futures)


def _forward(runner: Runner, pending: Pending) -> list[Outcome]:
    read = [
        (image, choice, future.result())
        for image, choice, future in zip(
            pending.images, pending.choices, pending.pixels, strict=True
        )
    ]
    kept = [(image, choice, tensor) for image, choice, tensor in read if tensor is not None]
    if not kept:
        return []
    logits, embeddings = runner.forward(torch.cat([tensor for _, _, tensor in kept]))
    outcomes, row = [], 0
    for (
        image,
        choice,
        tensor,
    ) in kept:  # a video brings several frames: average them into one result
        span = slice(row, row + len(tensor))
        outcomes.append(
            Outcome(image, choice, logits[span].mean(axis=0), embeddings[span].mean(axis=0))
        )
        row += len(tensor)
    return outcomes


def _same_box(stored: list[float] | None, chosen: Box | None) -> bool:
    if stored is None or chosen is None:
        return stored is None and chosen is None
    return bool(
        np.allclose(np.asarray(stored, dtype=float), np.asarray(chosen.to_list()), atol=1e-6)
    )


def _reusable(
    context: Context, images: list[Image], choices: list[BoxChoice]
) -> dict[int, tuple[bytes | memoryview, float]]:
    """{image id: (stored vector, norm)} for images whose stored embedding of this backbone was
    computed on the crop chosen today. A version with a detector reuses nothing the detector has not
    looked at yet."""
    wanted = {
        image.pk: choice
        for image, choice in zip(images, choices, strict=True)
        if not (
            context.built.detector
            and choice.source == BoxSource.WHOLE_IMAGE
            and image.kind == MediaKind.IMAGE
        )
    }
    rows = (
        Embedding.objects.filter(
            image_id__in=list(wanted), backbone_key=context.version.backbone_key
        )
        .exclude(box_source="")
        .values_list("image_id", "vector", "norm", "box")
    )
    return {
        image_id: (vector, norm)
        for image_id, vector, norm, box in rows
        if _same_box(box, wanted[image_id].box)
    }


def _reuse(
    context: Context,
    images: list[Image],
    choices: list[BoxChoice],
    stored: dict[int, tuple[bytes | memoryview, float]],
) -> list[Outcome]:
    """Classify stored embeddings: the raw pooled feature is the unit vector times its norm."""
    if not images:
        return []
    features = np.stack(
        [from_f16_bytes(stored[image.pk][0]) * stored[image.pk][1] for image in images]
    )
    logits = context.built.logits_from_features(features)
    return [
        Outcome(image, choice, row, None)
        for image, choice, row in zip(images, choices, logits, strict=True)
    ]


def prelabel_images(
    *,
    context: Context,
    image_ids: list[int],
    batch_size: int = 16,
    keep_going: Callable[[int], bool] | None = None,
) -> list[int]:
    """Predict the given images with the context's version; return the ids predicted, in the order
    given. Stored embeddings are classified first (cheap); the rest run through the backbone in
    batches, the next batch decoded while the current one runs. `keep_going(done)` is asked between
    batches: False stops early."""
    images = {
        image.pk: image
        for image in Image.objects.filter(pk__in=image_ids).select_related("organisation")
    }
    ordered = [images[pk] for pk in image_ids if pk in images]
    choices = choose_boxes(ordered, threshold=settings.FAUNE["DETECTION_THRESHOLD"], detector=None)
    stored = _reusable(context, ordered, choices)
    fast = [
        (image, choice)
        for image, choice in zip(ordered, choices, strict=True)
        if image.pk in stored
    ]
    done: list[int] = []
    for start in range(0, len(fast), REUSE_CHUNK):
        part = fast[start : start + REUSE_CHUNK]
        done += _store(
            context, _reuse(context, [i for i, _ in part], [c for _, c in part], stored)
        )[0]
    slow = [image for image in ordered if image.pk not in stored]
    return done + _through_backbone(context, slow, batch_size, keep_going, already=len(done))


def _through_backbone(
    context: Context,
    images: list[Image],
    batch_size: int,
    keep_going: Callable[[int], bool] | None,
    already: int,
) -> list[int]:
    if not images:
        return []
    runner = context.built
    batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    done: list[int] = []
    new_ids: list[np.ndarray] = []
    new_vectors: list[np.ndarray] = []

    def submit(batch: list[Image], pool: ThreadPoolExecutor) -> Pending:
        choices = choose_boxes(
            batch,
            threshold=settings.FAUNE["DETECTION_THRESHOLD"],
            detector=runner.detector,
            detector_name=runner.detector_name,
        )  # database work stays on this thread
        return _submit(batch, choices, runner, pool)

    with ThreadPoolExecutor(max_workers=settings.FAUNE["DECODE_THREADS"]) as pool:
        pending = submit(batches[0], pool)
        for index in range(len(batches)):
            current = pending
            go_on = keep_going is None or keep_going(already + len(done))
            if index + 1 < len(batches) and go_on:
                pending = submit(batches[index + 1], pool)
            ids, vectors = _store(context, _forward(runner, current))
            done += [
                image.pk for image in current.images
            ]  # unreadable files count as done: never retried
            new_ids.append(np.array(ids, dtype=np.int64))
            new_vectors.append(vectors)
            if not go_on:
                break
    if sum(len(ids) for ids in new_ids):
        index_add(runner.spec.key, ids=np.concatenate(new_ids), vectors=np.concatenate(new_vectors))
    return done


def _top(probabilities: np.ndarray, classes: list[Taxon], k: int = 5) -> list[list[int | float]]:
    order = np.argsort(-probabilities)[:k]
    return [[classes[i].pk, round(float(probabilities[i]), 5)] for i in order]


def _prediction(context: Context, outcome: Outcome) -> Prediction:
    version, classes = context.version, context.classes
    probabilities = class_probabilities(
        outcome.logits, temperature=version.temperature, renormalise=not version.is_zero_shot
    )
    best = int(np.argmax(probabilities))
    taxon: Taxon | None = classes[best]
    score = float(probabilities[best])
    category = outcome.choice.category
    if category == Category.ANIMAL:
        # a classifier's class may be a person, a vehicle or nothing
        category = Category(classes[best].kind)
    else:  # the detector decided: person, vehicle or nothing
        taxon, score = context.category_taxa.get(category), outcome.choice.confidence
    return Prediction(
        image=outcome.image,
        version=version,
        category=category,
        taxon=taxon,
        score=score,
        top=_top(probabilities, classes),
        logits=to_f16_bytes(outcome.logits),
        box_source=outcome.choice.source,
        box=_stored_box(outcome.choice.box),
    )


def _stored_box(box: Box | None) -> list[float] | None:
    return box.to_list() if box else None


def _embedding(context: Context, outcome: Outcome, vector: np.ndarray, norm: float) -> Embedding:
    return Embedding(
        image=outcome.image,
        backbone_key=context.built.spec.key,
        vector=to_f16_bytes(vector),
        norm=norm,
        box=_stored_box(outcome.choice.box),
        box_source=outcome.choice.source,
    )


def _store(context: Context, outcomes: list[Outcome]) -> tuple[list[int], np.ndarray]:
    """Write the predictions (and new embeddings) of a step; return (image ids, unit vectors) of the
    new embeddings, for the index."""
    fresh = [o for o in outcomes if o.embedding is not None]
    vectors = (
        np.stack([o.embedding for o in outcomes if o.embedding is not None]).astype(np.float32)
        if fresh
        else np.zeros((0, context.built.classifier.embedding_dim), dtype=np.float32)
    )
    norms = np.clip(np.linalg.norm(vectors, axis=1), 1e-12, None)
    vectors /= norms[:, None]
    with transaction.atomic():
        Prediction.objects.bulk_create(
            [_prediction(context, o) for o in outcomes],
            update_conflicts=True,
            unique_fields=["image", "version"],
            update_fields=["category", "taxon", "score", "top", "logits", "box_source", "box"],
        )
        Embedding.objects.bulk_create(
            [
                _embedding(context, o, v, float(n))
                for o, v, n in zip(fresh, vectors, norms, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["image", "backbone_key"],
            update_fields=["vector", "norm", "box", "box_source"],
        )
        # With the predictions, not after the run's slice: a resumed run skips frames that have
        # predictions, so a verdict left for later would be lost with a killed worker.
        sequence_predictions_refresh(
            context=context, sequence_ids={o.image.sequence_id for o in outcomes}
        )
    return [o.image.pk for o in fresh], vectors


def _verdict_row(
    context: Context, sequence_id: int, frames: list[FrameResult]
) -> SequencePrediction:
    version, classes = context.version, context.classes
    verdict = aggregate_sequence(
        frames,
        temperature=version.temperature,
        renormalise=not version.is_zero_shot,
        top_k=SEQUENCE_TOP,
    )
    taxon: Taxon | None
    if verdict.class_index is not None:
        taxon = classes[verdict.class_index]
    else:
        taxon = context.category_taxa.get(verdict.category)
    return SequencePrediction(
        sequence_id=sequence_id,
        version=version,
        category=verdict.category,
        taxon=taxon,
        score=verdict.score,
        top=[[classes[i].pk, round(p, 5)] for i, p in verdict.top],
    )


def sequence_predictions_refresh(*, context: Context, sequence_ids: Iterable[int]) -> int:
    """Aggregate each sequence's frame predictions into its verdict, as DeepFaune does; a few
    queries per SEQUENCE_CHUNK sequences, whatever their number."""
    wanted, refreshed = sorted(set(sequence_ids)), 0
    for start in range(0, len(wanted), SEQUENCE_CHUNK):
        frames: dict[int, list[FrameResult]] = {}
        rows = Prediction.objects.filter(
            version=context.version, image__sequence_id__in=wanted[start : start + SEQUENCE_CHUNK]
        ).values_list("image__sequence_id", "category", "logits")
        for sequence_id, category, logits in rows:
            values = from_f16_bytes(logits) if logits and category == Category.ANIMAL else None
            frames.setdefault(sequence_id, []).append(FrameResult(category, values))
        SequencePrediction.objects.bulk_create(
            [_verdict_row(context, sequence_id, found) for sequence_id, found in frames.items()],
            update_conflicts=True,
            unique_fields=["sequence", "version"],
            update_fields=["category", "taxon", "score", "top", "updated_at"],
        )
        refreshed += len(frames)
    return refreshed
