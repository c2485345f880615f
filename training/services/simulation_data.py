"""Reading a labelled dataset for the active-learning simulation, the way an import reads it: the
layout, the class of each image (the largest box's, as the pipeline crops it) and the sequences,
grouped as the platform groups them. The simulation engine itself receives the items and never reads
a folder."""

import datetime as dt
from collections import Counter
from pathlib import Path

from PIL import Image

from annotation.ingest.exif import read_exif
from annotation.ingest.layouts import find_coco_index, plan_import
from annotation.ingest.media import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS
from annotation.ingest.plans import ImportPlan, PlannedFile, PlannedLabel
from annotation.ingest.sequences import Frame, group_sequences
from training.engine.simulation import Item


def _skip_reason(planned: PlannedFile) -> str:
    if Path(planned.name).suffix.lower() not in MEDIA_EXTENSIONS:
        return "not an image or video"
    if planned.rejection or planned.path is None:
        return "refused by the layout reader"
    if planned.path.suffix.lower() in VIDEO_EXTENSIONS:
        return "video (not simulated)"
    return "" if planned.labels else "unlabelled"


def _main_label(labels: list[PlannedLabel]) -> PlannedLabel:
    """The label of the largest box: the animal the pipeline would crop. Without boxes, the
    first label."""
    return max(labels, key=lambda label: label.box.area if label.box else -1.0)


def _exif_time(planned: PlannedFile, earliest_year: int) -> dt.datetime | None:
    """The camera's date, read as an import reads it: only a `classes` folder needs it (an index
    gives its own)."""
    if planned.path is None:  # refused files are skipped before (see `_skip_reason`)
        return None
    try:
        with Image.open(planned.path) as image:
            now = dt.datetime.now()  # noqa: DTZ005
            return read_exif(image, earliest_year=earliest_year, now=now).taken_at
    except OSError:
        return None


def plan_items(
    plan: ImportPlan, *, maxlag_s: float, earliest_year: int
) -> tuple[list[Item], Counter[str]]:
    """The plan's labelled images, grouped into sequences as the platform groups them; and what was
    skipped, why."""
    kept: list[PlannedFile] = []
    skipped: Counter[str] = Counter()
    for planned in plan.files:
        reason = _skip_reason(planned)
        if reason:
            skipped[reason] += 1
        else:
            kept.append(planned)
    frames = [
        Frame(
            p.deployment,
            p.taken_at or (None if p.sequence_id else _exif_time(p, earliest_year)),
            p.sequence_id,
        )
        for p in kept
    ]
    keys = group_sequences(frames, maxlag_s=maxlag_s)
    items = []
    for planned, key in zip(kept, keys, strict=True):
        label = _main_label(planned.labels)
        items.append(Item(str(planned.path), label.box, label.class_name, key))
    return items, skipped


def dataset_items(
    root: Path, *, fmt: str | None, maxlag_s: float, earliest_year: int
) -> tuple[str, list[Item], Counter[str]]:
    """(format used, items, skipped reasons) of a COCO Camera Traps folder or a folder per class."""
    fmt = fmt or ("coco" if find_coco_index(root) else "classes")
    plan = plan_import(root, fmt, deployment=None, known_names=set(), normalise=str)
    items, skipped = plan_items(plan, maxlag_s=maxlag_s, earliest_year=earliest_year)
    return fmt, items, skipped
