"""python manage.py export_megadetector OUT.json [--organisation ORG] [--deployment NAME ...]

Writes the stored detections (a detector run here, or an imported MegaDetector file) as MegaDetector
batch output (format 1.4), then a JSON line of counts."""

from pathlib import Path

from inference.management.commands._export import ExportCommand
from inference.models import ExportFormat


class Command(ExportCommand):
    help = "Export stored detections as a MegaDetector batch-output JSON file."
    out_help = "the .json file to write"

    def export_format(self, out: Path, options: dict) -> str:
        return ExportFormat.MEGADETECTOR
