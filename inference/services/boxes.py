"""Which part of each image gets classified, in DeepFaune's order of trust: a box from the labelled
pool, then detections already stored (an imported MegaDetector file or an earlier detector run),
then the version's own detector, else the whole image."""

from dataclasses import dataclass

from django.db import transaction
from PIL import Image as PILImage
from PIL import ImageOps

from annotation.models import Annotation, Image, MediaKind, Taxon
from faune_platform.boxes import NOT_ANIMAL, WHOLE_FRAME, Box, Category, DetectorCategory
from faune_platform.db import row_lock
from inference.engine.detections import Detection as FoundBox
from inference.engine.detections import YoloDetector
from inference.models import BoxSource, Detection


@dataclass(frozen=True)
class BoxChoice:
    category: Category
    box: Box | None
    source: str
    confidence: float = 1.0


WHOLE_IMAGE = BoxChoice(Category.ANIMAL, None, BoxSource.WHOLE_IMAGE)


def detector_taxa() -> dict[str, Taxon | None]:
    """The taxon that stands for each category the detector decides alone (its slug is the
    category's word), read once per job."""
    taxa = Taxon.objects.in_bulk([category.value for category in NOT_ANIMAL], field_name="slug")
    return {category: taxa.get(category.value) for category in NOT_ANIMAL}


def _pool_boxes(images: list[Image]) -> dict[int, BoxChoice]:
    found: dict[int, BoxChoice] = {}
    rows = (
        Annotation.objects.filter(image__in=images, box_w__isnull=False)
        .select_related("taxon")
        .order_by("-created_at", "-pk")
    )
    for label in rows:
        if label.image_id is not None and label.image_id not in found:
            kind = label.taxon.kind
            category = (
                Category(kind) if kind in (Category.HUMAN, Category.VEHICLE) else Category.ANIMAL
            )
            found[label.image_id] = BoxChoice(category, label.box, BoxSource.POOL)
    return found


def decide(
    detections: list[Detection] | list[FoundBox], *, threshold: float, source: str
) -> BoxChoice:
    """The best animal box above the threshold; else a person or vehicle; else the image
    is empty."""
    found = [d for d in detections if d.category != DetectorCategory.EMPTY]
    ranked = sorted(
        (d for d in found if d.confidence >= threshold),
        key=lambda d: (d.category != DetectorCategory.ANIMAL, -d.confidence),
    )
    if not ranked:
        return BoxChoice(
            Category.EMPTY, None, source, 1.0 - max((d.confidence for d in found), default=0.0)
        )
    best = ranked[0]
    return BoxChoice(DetectorCategory(best.category).category, best.box, source, best.confidence)


def store_detections(image: Image, *, found: list[FoundBox], source: str, detector: str) -> None:
    """Replace this source's detections of the image; an empty result is stored as an 'empty' row,
    so that 'the detector ran and saw nothing' is remembered. The image row is locked meanwhile: two
    workers storing the same image's boxes (two runs over one batch) would interleave their deletes
    and inserts and leave both sets."""
    rows = found or [FoundBox(DetectorCategory.EMPTY, 1.0, WHOLE_FRAME)]
    with transaction.atomic():
        row_lock(image)
        Detection.objects.filter(image=image, source=source).delete()
        Detection.objects.bulk_create(
            Detection(
                image=image,
                source=source,
                detector=detector[:120],
                category=d.category,
                confidence=d.confidence,
                **d.box.columns(),
            )
            for d in rows
        )


def _stored(images: list[Image]) -> dict[int, list[Detection]]:
    grouped: dict[int, list[Detection]] = {}
    for detection in Detection.objects.filter(image__in=images):
        grouped.setdefault(detection.image_id, []).append(detection)
    return grouped


def _upright_rgb(image: Image) -> PILImage.Image:
    with image.file.open("rb") as handle:  # through the storage API: object storage works too
        return ImageOps.exif_transpose(PILImage.open(handle)).convert("RGB")


def _run_detector(
    images: list[Image], detector: YoloDetector, name: str, threshold: float
) -> dict[int, BoxChoice]:
    pictures = [_upright_rgb(image) for image in images]
    choices = {}
    for image, found in zip(images, detector.detect(pictures), strict=True):
        store_detections(image, found=found, source=BoxSource.DETECTOR, detector=name)
        choices[image.pk] = decide(found, threshold=threshold, source=BoxSource.DETECTOR)
    return choices


def choose_boxes(
    images: list[Image],
    *,
    threshold: float,
    detector: YoloDetector | None = None,
    detector_name: str = "",
) -> list[BoxChoice]:
    """One box choice per image; the detector (a YoloDetector) runs only on images that have no
    box yet."""
    pool, stored = _pool_boxes(images), _stored(images)
    choices = {pk: choice for pk, choice in pool.items()}
    for image in images:
        if image.pk not in choices and image.pk in stored:
            choices[image.pk] = decide(
                stored[image.pk], threshold=threshold, source=stored[image.pk][0].source
            )
    missing = [i for i in images if i.pk not in choices and i.kind == MediaKind.IMAGE]
    if missing and detector is not None:
        choices.update(_run_detector(missing, detector, detector_name, threshold))
    return [choices.get(image.pk, WHOLE_IMAGE) for image in images]
