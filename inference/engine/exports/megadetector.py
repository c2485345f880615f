"""MegaDetector batch output (format 1.4): for each image a detector looked at, its boxes with
category and confidence, normalised [x, y, w, h]. Images no detector ever looked at are left
out (nothing was detected, nor ruled out); an image a detector saw nothing in is listed with
no detection."""

import datetime as dt
from typing import Any

from faune_platform.boxes import MEGADETECTOR_CATEGORIES
from inference.engine.exports.records import Frame

FORMAT_VERSION = "1.4"


def image_entry(frame: Frame) -> dict[str, Any] | None:
    if frame.detections is None:
        return None
    detections: list[dict[str, Any]] = [
        {
            "category": d.category.megadetector_id,
            "conf": round(d.confidence, 4),
            "bbox": d.box.to_list(digits=4),
        }
        for d in frame.detections
        if d.category.megadetector_id
    ]
    return {
        "file": frame.name,
        "max_detection_conf": max((d["conf"] for d in detections), default=0.0),
        "detections": detections,
    }


def head(*, detectors: list[str], completed: dt.datetime) -> dict[str, Any]:
    return {
        "detection_categories": MEGADETECTOR_CATEGORIES,
        "info": {
            "format_version": FORMAT_VERSION,
            "detector": ", ".join(detectors) or "unknown",
            "detection_completion_time": completed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        },
    }
