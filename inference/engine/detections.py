"""Boxes before classification: from an ultralytics YOLO file (MegaDetector, DeepFaune's detector) or from a
MegaDetector batch-output JSON. Boxes are normalised [x, y, w, h] with the top-left corner first."""
import json
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

CATEGORIES = ("animal", "person", "vehicle")


class DetectionFileError(Exception):
    http_status = 400


@dataclass(frozen=True)
class Detection:
    category: str  # animal / person / vehicle
    confidence: float
    box: tuple[float, float, float, float]


def category_of(name: str, index: int) -> str:
    lowered = name.lower()
    for category in CATEGORIES:
        if category in lowered:
            return category
    if "human" in lowered:
        return "person"
    return CATEGORIES[index] if index < len(CATEGORIES) else "animal"


def import_yolo():
    """ultralytics, imported without its side effects: no package auto-install, no network checks, and
    Pillow's `Image.open` given back (ultralytics replaces it with one that pip-installs a HEIF plugin the
    first time a file is not an image, which would break our own refusal of non-images)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    from ultralytics import YOLO
    from ultralytics.utils import patches

    Image.open = getattr(patches, "_image_open", Image.open)
    return YOLO


class YoloDetector:
    """An ultralytics YOLO weights file given by path; runs at `image_size` (DeepFaune's detector: 960)."""

    def __init__(self, weights: str, *, image_size: int = 960, min_confidence: float = 0.1,
                 config_dir: str | None = None) -> None:
        if config_dir:
            os.environ.setdefault("YOLO_CONFIG_DIR", config_dir)  # ultralytics writes settings; keep them local
        YOLO = import_yolo()  # noqa: N806 the class, under its usual name
        if not Path(weights).is_file():
            raise DetectionFileError(f"no detector weights at {weights}")
        self.model = YOLO(weights, task="detect")
        self.image_size = image_size
        self.min_confidence = min_confidence

    def detect(self, images: list[Image.Image]) -> list[list[Detection]]:
        results = self.model.predict(images, imgsz=self.image_size, conf=self.min_confidence, verbose=False)
        return [self._boxes(result) for result in results]

    def _boxes(self, result) -> list[Detection]:
        names = result.names
        found = []
        for xywhn, cls, conf in zip(result.boxes.xywhn.tolist(), result.boxes.cls.tolist(),
                                    result.boxes.conf.tolist(), strict=True):
            cx, cy, w, h = xywhn
            box = (max(0.0, cx - w / 2), max(0.0, cy - h / 2), min(w, 1.0), min(h, 1.0))
            found.append(Detection(category_of(str(names.get(int(cls), "")), int(cls)), float(conf), box))
        return sorted(found, key=lambda d: -d.confidence)


def read_megadetector_json(path: Path) -> dict[str, list[Detection]]:
    """MegaDetector batch output: {'images': [{'file', 'detections': [{'category', 'conf', 'bbox'}]}],
    'detection_categories': {'1': 'animal', '2': 'person', '3': 'vehicle'}}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        names = data.get("detection_categories") or {"1": "animal", "2": "person", "3": "vehicle"}
        images = data["images"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DetectionFileError(f"{path} is not a MegaDetector batch-output file ({error})") from None
    by_file: dict[str, list[Detection]] = {}
    for entry in images:
        if not isinstance(entry, dict) or "file" not in entry or entry.get("failure"):
            continue
        detections = []
        for detection in entry.get("detections") or []:
            category = str(detection.get("category"))
            x, y, w, h = (float(v) for v in detection["bbox"])
            detections.append(Detection(category_of(names.get(category, ""), int(category) - 1),
                                        float(detection.get("conf", 0.0)), (x, y, w, h)))
        by_file[str(entry["file"]).replace("\\", "/")] = sorted(detections, key=lambda d: -d.confidence)
    return by_file
