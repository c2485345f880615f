"""COCO Camera Traps
(https://github.com/agentmorris/MegaDetector/blob/main/megadetector/data_management/README.md):
images with their date, camera (`location`) and sequence (`seq_id`, `seq_num_frames`, `frame_num`),
and one annotation per labelled image, its box in pixels. Only labels go in (it is a ground-truth
format): images no one labelled have no annotation. The file names are the paths the images were
uploaded or imported under, so the file sits beside the partner's own folders (and imports back here
as a COCO layout)."""

import datetime as dt
from typing import Any

from inference.engine.exports.records import Event

FORMAT_VERSION = "1.0"


def _datetime(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat(sep=" ") if value else None


def image_entries(event: Event) -> list[dict[str, Any]]:
    size = len(event.frames)
    return [
        {
            "id": frame.id,
            "file_name": frame.name,
            "width": frame.width,
            "height": frame.height,
            "datetime": _datetime(frame.taken_at),
            "location": frame.site_id,
            "seq_id": str(event.id),
            "seq_num_frames": size,
            "frame_num": number,
        }
        for number, frame in enumerate(event.frames)
    ]


def annotation_entries(event: Event) -> list[dict[str, Any]]:
    rows = []
    for frame in event.frames:
        label = frame.label
        if label is None or label.taxon_id is None:
            continue
        row: dict[str, Any] = {
            "id": f"{frame.id}-1",
            "image_id": frame.id,
            "category_id": label.taxon_id,
        }
        if label.box is not None:
            row["bbox"] = label.box.to_pixels(frame.width, frame.height)
        if label.count:
            row["count"] = label.count
        rows.append(row)
    return rows


def head(
    *, description: str, created: dt.datetime, categories: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything but the images and annotations arrays (those are written line by line)."""
    return {
        "info": {
            "version": FORMAT_VERSION,
            "description": description,
            "contributor": "Faune",
            "date_created": created.date().isoformat(),
        },
        "categories": categories,
    }
