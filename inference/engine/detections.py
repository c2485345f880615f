"""Boxes before classification: from an ultralytics YOLO file (MegaDetector, DeepFaune's detector)
or from a MegaDetector batch-output JSON. Boxes are normalised [x, y, w, h] with the top-left
corner first."""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PIL import Image

from faune_platform.boxes import DETECTED, MEGADETECTOR_CATEGORIES, Box, DetectorCategory
from faune_platform.errors import InputRefused

if TYPE_CHECKING:  # ultralytics imports torch: only type checkers read it at import time
    from ultralytics.engine.results import Results
    from ultralytics.models import YOLO


class DetectionFileError(InputRefused):
    pass


@dataclass(frozen=True)
class Detection:
    category: DetectorCategory
    confidence: float
    box: Box


def import_yolo() -> "type[YOLO]":
    """ultralytics, imported without its side effects: no package auto-install, no network checks,
    and Pillow's `Image.open` given back (ultralytics replaces it with one that pip-installs a HEIF
    plugin the first time a file is not an image, which would break our own refusal of
    non-images)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    from ultralytics.models import YOLO
    from ultralytics.utils import patches

    Image.open = getattr(patches, "_image_open", Image.open)
    return YOLO


class YoloDetector:
    """An ultralytics YOLO weights file given by path; runs at `image_size` (DeepFaune's
    detector: 960)."""

    def __init__(
        self,
        weights: str,
        *,
        image_size: int = 960,
        min_confidence: float = 0.1,
        config_dir: str | None = None,
    ) -> None:
        if config_dir:
            os.environ.setdefault(
                "YOLO_CONFIG_DIR", config_dir
            )  # ultralytics writes settings; keep them local
        YOLO = import_yolo()  # noqa: N806 the class, under its usual name
        if not Path(weights).is_file():
            raise DetectionFileError(f"no detector weights at {weights}")
        self.model = YOLO(weights, task="detect")
        self.image_size = image_size
        self.min_confidence = min_confidence

    def detect(self, images: list[Image.Image]) -> list[list[Detection]]:
        # predict() is typed as Results, Tensors or a stream of them; without stream= or embed= it
        # is a list of Results
        results = cast(
            "list[Results]",
            self.model.predict(
                images, imgsz=self.image_size, conf=self.min_confidence, verbose=False
            ),
        )
        return [self._boxes(result) for result in results]

    def _boxes(self, result: "Results") -> list[Detection]:
        names, boxes = result.names, result.boxes
        if boxes is None:  # only classification models give none
            return []
        found = []
        for xywhn, cls, conf in zip(
            boxes.xywhn.tolist(), boxes.cls.tolist(), boxes.conf.tolist(), strict=True
        ):
            cx, cy, w, h = xywhn
            box = Box.clipped(cx - w / 2, cy - h / 2, w, h)
            if box is not None:
                category = DetectorCategory.from_name(str(names.get(int(cls), "")), int(cls))
                found.append(Detection(category, float(conf), box))
        return sorted(found, key=lambda d: -d.confidence)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _shown(value: object) -> str:
    text = "an object" if isinstance(value, dict) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def read_megadetector_json(path: Path) -> dict[str, list[Detection]]:
    """MegaDetector batch output: {'images': [{'file', 'detections': [{'category', 'conf',
    'bbox'}]}], 'detection_categories': {'1': 'animal', '2': 'person', '3': 'vehicle'}}. Every field
    read is checked (DetectionFileError names the entry and the field); boxes are clipped to the
    frame, empty ones dropped."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DetectionFileError(
            f"{path} is not a MegaDetector batch-output file ({error})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DetectionFileError(
            f"{path.name}: a MegaDetector batch-output file is a JSON object with an 'images' list"
        )
    names = _category_names(data.get("detection_categories"), path)
    by_file: dict[str, list[Detection]] = {}
    for position, entry in enumerate(data["images"]):
        where = f"{path.name}: images[{position}]"
        if not isinstance(entry, dict):
            raise DetectionFileError(f"{where} must be an object, not {_shown(entry)}")
        if entry.get("failure"):
            continue  # MegaDetector could not read that image: nothing was detected, nor ruled out
        name = entry.get("file")
        if not isinstance(name, str) or not name or "\x00" in name:
            raise DetectionFileError(f"{where}.file must be the image's path, not {_shown(name)}")
        found = _detections(entry.get("detections"), names, f"{where} ({name})")
        by_file[name.replace("\\", "/")] = sorted(found, key=lambda d: -d.confidence)
    return by_file


def _category_names(raw: object, path: Path) -> dict[str, str]:
    if raw is None:
        return MEGADETECTOR_CATEGORIES
    if not isinstance(raw, dict) or not all(isinstance(name, str) for name in raw.values()):
        raise DetectionFileError(
            f"{path.name}: detection_categories must map ids to names, not {_shown(raw)}"
        )
    return raw


def _detections(raw: object, names: dict[str, str], where: str) -> list[Detection]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DetectionFileError(f"{where}: detections must be a list, not {_shown(raw)}")
    found = []
    for position, detection in enumerate(raw):
        at = f"{where} detections[{position}]"
        if not isinstance(detection, dict):
            raise DetectionFileError(f"{at} must be an object, not {_shown(detection)}")
        found += _detection(detection, names, at)
    return found


def _detection(detection: dict[str, Any], names: dict[str, str], at: str) -> list[Detection]:
    """The detection as a one-item list, or [] when its box lies outside the frame."""
    category = detection.get("category")
    if (
        isinstance(category, bool)
        or not isinstance(category, str | int)
        or str(category) not in names
    ):
        raise DetectionFileError(
            f"{at}.category must be one of {', '.join(map(repr, names))}, not {_shown(category)}"
        )
    confidence = detection.get("conf", 0.0)
    if not (_is_number(confidence) and 0 <= confidence <= 1):
        raise DetectionFileError(
            f"{at}.conf must be a number from 0 to 1, not {_shown(confidence)}"
        )
    bbox = detection.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(value) for value in bbox)):
        raise DetectionFileError(
            f"{at}.bbox must be 4 numbers (x, y, width, height as fractions of the "
            f"image), not {_shown(bbox)}"
        )
    box = Box.clipped(*(float(value) for value in bbox))
    if box is None:
        return []
    found = DetectorCategory.from_name(names[str(category)], _index_of(str(category)))
    return [Detection(found, float(confidence), box)]


def _index_of(category: str) -> int:
    """MegaDetector numbers its categories from 1 in DETECTED's order; other ids fall back
    to 'animal'."""
    numbered = category.isascii() and category.isdigit() and int(category) >= 1
    return int(category) - 1 if numbered else len(DETECTED)
