"""python manage.py export_coco OUT.json [--organisation ORG] [--deployment NAME ...]
[--people blur|exclude]

Writes the labels as a COCO Camera Traps JSON file (boxes in pixels), then a JSON line of counts."""

from pathlib import Path

from inference.management.commands._export import ExportCommand
from inference.models import ExportFormat


class Command(ExportCommand):
    help = "Export images, sequences and labels as COCO Camera Traps JSON."
    out_help = "the .json file to write"

    def export_format(self, out: Path, options: dict) -> str:
        return ExportFormat.COCO
