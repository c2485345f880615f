"""python manage.py import_detections FILE [--organisation ORG]

Stores the boxes of a MegaDetector batch-output JSON on the matching images (by the path the
image was imported or uploaded under, else by file name, each when only one image has it), then
queues their re-prediction."""

import json
from collections.abc import Iterable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotation.models import Image
from inference.engine.detections import DetectionFileError, read_megadetector_json
from inference.models import BoxSource, Prediction
from inference.selectors import production_version
from inference.services.boxes import store_detections
from inference.tasks import queue_prelabel_all


class Command(BaseCommand):
    help = "Import boxes from a MegaDetector batch-output JSON file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", help="only match images of this organisation")

    def handle(self, *args: object, **options: object) -> None:
        try:
            by_file = read_megadetector_json(options["file"])
        except DetectionFileError as error:
            raise CommandError(str(error)) from None
        images = Image.objects.all()
        if options["organisation"]:
            images = images.filter(organisation__name=options["organisation"])
        by_name, by_base = self._lookups(images)
        matched, boxes, unmatched = [], 0, []
        with transaction.atomic():
            for name, found in by_file.items():
                image_id = by_name.get(name) or by_base.get(Path(name).name)
                if image_id is None:
                    unmatched.append(name)
                    continue
                store_detections(
                    Image(pk=image_id),
                    found=found,
                    source=BoxSource.MEGADETECTOR_JSON,
                    detector=options["file"].name,
                )
                matched.append(image_id)
                boxes += len(found)
            self._queue_repredict(matched)
        for name in unmatched[:20]:
            self.stderr.write(f"no image matches {name}")
        self.stdout.write(
            json.dumps({"matched": len(matched), "unmatched": len(unmatched), "detections": boxes})
        )

    def _lookups(self, images) -> tuple[dict[str, int], dict[str, int]]:
        """{path: image id} and {file name: image id}, each without the names several images
        share (two cards' IMG_0001.JPG, or two organisations'): boxes go on no image rather than
        on the wrong one."""
        return _unique(images.values_list("original_name", "pk")), _unique(
            (Path(name).name, pk) for name, pk in images.values_list("original_name", "pk")
        )

    def _queue_repredict(self, image_ids: list[int]) -> None:
        version = production_version()
        if version and image_ids:
            Prediction.objects.filter(version=version, image_id__in=image_ids).delete()
            queue_prelabel_all(version)  # picks up every image without a prediction, these included


def _unique(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """{name: id} of the names that only one id has."""
    found: dict[str, int] = {}
    shared: set[str] = set()
    for name, pk in pairs:
        if name in found:
            shared.add(name)
        found[name] = pk
    return {name: pk for name, pk in found.items() if name not in shared}
