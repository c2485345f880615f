"""What the models know about people in images, for the labelled pool's privacy rules
(annotation/privacy.py): a person box of a detector (run here or imported from a MegaDetector
file) above the detection threshold, or the production classifier calling the image human.
Registered in InferenceConfig.ready()."""

from django.conf import settings

from faune_platform.boxes import Box, Category, DetectorCategory
from inference.models import Detection, Prediction, VersionStatus


def people_found(image_ids: list[int]) -> dict[int, list[Box]]:
    """{image id: person boxes}; an image the classifier calls human with no box maps to [] (the
    whole frame)."""
    threshold = settings.FAUNE["DETECTION_THRESHOLD"]
    found: dict[int, list[Box]] = {}
    boxes = Detection.objects.filter(
        image_id__in=image_ids, category=DetectorCategory.PERSON, confidence__gte=threshold
    )
    for image_id, *columns in boxes.values_list("image_id", *Box.COLUMNS):
        found.setdefault(image_id, []).append(Box(*columns))
    human = Prediction.objects.filter(
        image_id__in=image_ids, category=Category.HUMAN, version__status=VersionStatus.PRODUCTION
    )
    for image_id, box in human.values_list("image_id", "box"):
        found.setdefault(image_id, [])
        if box:
            found[image_id].append(Box.from_list(box))
    return found
