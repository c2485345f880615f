"""Pre-labelling images with a version: pick each image's box, classify the crop, store the top classes, the
logits and the embedding, then refresh the verdicts of the sequences touched. Re-running adds nothing twice
(one prediction per image and version, one embedding per image and backbone), so a crashed job just resumes.

Worker-only: imports torch through the runtime."""
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from django.conf import settings
from django.db import transaction

from annotation.models import Image, MediaKind, Taxon, TaxonKind
from inference.engine.aggregate import ANIMAL, FrameResult, aggregate_sequence, class_probabilities
from inference.engine.preprocess import CropRequest, load_crop, to_tensor, video_frames
from inference.engine.stored import from_f16_bytes, to_f16_bytes
from inference.models import Embedding, ModelVersion, Prediction, SequencePrediction
from inference.services.boxes import BoxChoice, choose_boxes, detector_label
from inference.services.index import index_add
from inference.services.runtime import Runner, runner_for

logger = logging.getLogger(__name__)
CATEGORY_OF_KIND = {TaxonKind.HUMAN: "human", TaxonKind.VEHICLE: "vehicle", TaxonKind.EMPTY: "empty"}


@dataclass
class Outcome:
    image: Image
    choice: BoxChoice
    logits: np.ndarray
    embedding: np.ndarray


def _pixels(image: Image, choice: BoxChoice, runner: Runner) -> torch.Tensor | None:
    """The crop (or a video's sampled frames) as a batch; None when the stored file cannot be read, so one
    damaged file is logged and skipped instead of stopping the whole job."""
    try:
        if image.kind == MediaKind.VIDEO:
            frames = video_frames(image.file.path)
            return torch.stack([to_tensor(frame, runner.spec) for frame in frames]) if frames else None
        return load_crop(CropRequest(image.file.path, choice.box), runner.spec).unsqueeze(0)
    except (OSError, ValueError) as error:
        logger.warning("image %s (%s) cannot be pre-labelled: %s", image.pk, image.file.name, error)
        return None


@dataclass
class Chunk:
    images: list[Image]
    choices: list[BoxChoice]
    pixels: list[Future]


def _submit(ids: list[int], runner: Runner, pool: ThreadPoolExecutor) -> Chunk:
    """Read rows and choose boxes here (database work stays on this thread); decode pixels in the pool."""
    images = list(Image.objects.filter(pk__in=ids).select_related("organisation"))
    choices = choose_boxes(images, threshold=settings.FAUNE["DETECTION_THRESHOLD"], detector=runner.detector,
                           detector_name=runner.detector_name)
    futures = [pool.submit(_pixels, image, choice, runner) for image, choice in zip(images, choices, strict=True)]
    return Chunk(images, choices, futures)


def _forward(runner: Runner, chunk: Chunk) -> list[Outcome]:
    kept = [(image, choice, future.result()) for image, choice, future
            in zip(chunk.images, chunk.choices, chunk.pixels, strict=True)]
    kept = [row for row in kept if row[2] is not None]
    if not kept:
        return []
    logits, embeddings = runner.forward(torch.cat([tensor for _, _, tensor in kept]))
    outcomes, row = [], 0
    for image, choice, tensor in kept:  # a video brings several frames: average them into one result
        span = slice(row, row + len(tensor))
        outcomes.append(Outcome(image, choice, logits[span].mean(axis=0), embeddings[span].mean(axis=0)))
        row += len(tensor)
    return outcomes


def prelabel_images(
    *,
    version: ModelVersion,
    image_ids: list[int],
    batch_size: int = 16,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Predict every given image with `version`; return how many were predicted. The next chunk is decoded
    while the current one runs through the model."""
    runner = runner_for(version.pk)
    taxa = {taxon.slug: taxon for taxon in Taxon.objects.all()}
    classes = [taxa[slug] for slug in runner.class_slugs]
    chunks = [image_ids[i:i + batch_size] for i in range(0, len(image_ids), batch_size)]
    done, new_ids, new_vectors = 0, [], []
    with ThreadPoolExecutor(max_workers=settings.FAUNE["DECODE_THREADS"]) as pool:
        pending = _submit(chunks[0], runner, pool) if chunks else None
        for index in range(len(chunks)):
            current = pending
            if index + 1 < len(chunks):
                pending = _submit(chunks[index + 1], runner, pool)
            ids, vectors = _store(version, runner, classes, _forward(runner, current))
            new_ids.append(ids)
            new_vectors.append(vectors)
            done += len(current.images)
            if on_progress:
                on_progress(done)
    if new_ids and sum(len(ids) for ids in new_ids):
        index_add(runner.spec.key, np.concatenate(new_ids), np.concatenate(new_vectors))
    return done


def _top(probabilities: np.ndarray, classes: list[Taxon], k: int = 5) -> list[list]:
    order = np.argsort(-probabilities)[:k]
    return [[classes[i].pk, round(float(probabilities[i]), 5)] for i in order]


def _prediction(version: ModelVersion, classes: list[Taxon], outcome: Outcome) -> Prediction:
    probabilities = class_probabilities(outcome.logits, temperature=version.temperature,
                                        renormalise=not version.is_zero_shot)
    best = int(np.argmax(probabilities))
    taxon, score = classes[best], float(probabilities[best])
    category = outcome.choice.category
    if category == ANIMAL:
        category = CATEGORY_OF_KIND.get(taxon.kind, ANIMAL)
    else:  # the detector decided: person, vehicle or nothing
        taxon, score = detector_label(category), outcome.choice.confidence
    return Prediction(
        image=outcome.image, version=version, category=category, taxon=taxon, score=score,
        top=_top(probabilities, classes), logits=to_f16_bytes(outcome.logits),
        box_source=outcome.choice.source, box=list(outcome.choice.box) if outcome.choice.box else None)


def _store(version: ModelVersion, runner: Runner, classes: list[Taxon],
           outcomes: list[Outcome]) -> tuple[np.ndarray, np.ndarray]:
    """Write predictions and embeddings of a chunk; return (image ids, normalised vectors) for the index."""
    if not outcomes:
        return np.zeros(0, dtype=np.int64), np.zeros((0, runner.classifier.embedding_dim), dtype=np.float32)
    vectors = np.stack([o.embedding for o in outcomes]).astype(np.float32)
    norms = np.clip(np.linalg.norm(vectors, axis=1), 1e-12, None)
    vectors /= norms[:, None]
    with transaction.atomic():
        Prediction.objects.bulk_create(
            [_prediction(version, classes, o) for o in outcomes], update_conflicts=True,
            unique_fields=["image", "version"],
            update_fields=["category", "taxon", "score", "top", "logits", "box_source", "box"])
        Embedding.objects.bulk_create(
            [Embedding(image=o.image, backbone_key=runner.spec.key, vector=to_f16_bytes(v),
                       norm=float(n)) for o, v, n in zip(outcomes, vectors, norms, strict=True)],
            update_conflicts=True, unique_fields=["image", "backbone_key"], update_fields=["vector", "norm"])
    return np.array([o.image.pk for o in outcomes], dtype=np.int64), vectors


def sequence_predictions_refresh(*, version: ModelVersion, sequence_ids: Iterable[int]) -> int:
    """Aggregate each sequence's frame predictions into its verdict, as DeepFaune does."""
    classes = list(version.classes.order_by("index").select_related("taxon"))
    refreshed = 0
    for sequence_id in set(sequence_ids):
        predictions = list(Prediction.objects.filter(version=version, image__sequence_id=sequence_id)
                           .select_related("image__organisation"))
        if not predictions:
            continue
        frames = [FrameResult(p.category, from_f16_bytes(p.logits)
                              if p.logits and p.category == ANIMAL else None) for p in predictions]
        threshold = predictions[0].image.organisation.undefined_threshold
        verdict = aggregate_sequence(frames, temperature=version.temperature, threshold=threshold,
                                     renormalise=not version.is_zero_shot)
        taxon = classes[verdict.class_index].taxon if verdict.class_index is not None else \
            detector_label(verdict.category)
        SequencePrediction.objects.update_or_create(
            sequence_id=sequence_id, version=version,
            defaults={"category": verdict.category, "taxon": taxon, "score": verdict.score,
                      "undefined": verdict.undefined,
                      "top": [[classes[i].taxon_id, round(p, 5)] for i, p in verdict.top]})
        refreshed += 1
    return refreshed

