"""MegaDetector batch output (format 1.4): for each image a detector looked at, its boxes with category and
confidence, normalised [x, y, w, h]. Images no detector ever looked at are left out (nothing was detected,
nor ruled out); an image a detector saw nothing in is listed with no detection."""
import datetime as dt
from typing import Any

from inference.engine.exports.records import Frame

FORMAT_VERSION = "1.4"
CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
_CATEGORY_ID = {name: number for number, name in CATEGORIES.items()}


def image_entry(frame: Frame) -> dict[str, Any] | None:
    if frame.detections is None:
        return None
    detections: list[dict[str, Any]] = [{"category": _CATEGORY_ID[d.category], "conf": round(d.confidence, 4),
                   "bbox": [round(value, 4) for value in d.box]}
                  for d in frame.detections if d.category in _CATEGORY_ID]
    return {"file": frame.name, "max_detection_conf": max((d["conf"] for d in detections), default=0.0),
            "detections": detections}


def head(*, detectors: list[str], completed: dt.datetime) -> dict[str, Any]:
    return {"detection_categories": CATEGORIES,
            "info": {"format_version": FORMAT_VERSION, "detector": ", ".join(detectors) or "unknown",
                     "detection_completion_time": completed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")}}
