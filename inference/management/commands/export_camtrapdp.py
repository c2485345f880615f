"""python manage.py export_camtrapdp OUT_DIR [--organisation ORG] [--deployment NAME ...] [--people
blur|exclude] [--no-media] [--sampling-design DESIGN] [--title TEXT] [--utc-offset +01:00]

Writes a Camtrap DP 1.0.2 package (datapackage.json, deployments.csv, media.csv, observations.csv
and, unless --no-media, the media files under media/) into OUT_DIR, prints what the deployments
lack, then a JSON line."""

from pathlib import Path

from django.core.management.base import CommandParser

from inference.engine.exports.camtrapdp import SAMPLING_DESIGNS
from inference.management.commands._export import ExportCommand
from inference.models import ExportFormat


class Command(ExportCommand):
    help = "Export images, deployments and observations as a Camtrap DP 1.0.2 package."
    out_help = "a new or empty folder for the package"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-media",
            action="store_true",
            help="do not copy the media files (filePath is then the path they were uploaded under)",
        )
        parser.add_argument("--sampling-design", choices=SAMPLING_DESIGNS, default="opportunistic")
        parser.add_argument("--title", default="", help="the package's and project's title")

    def export_format(self, out: Path, options: dict) -> str:
        return ExportFormat.CAMTRAP_DP

    def export_options(self, options: dict) -> dict:
        return {
            "media": not options["no_media"],
            "sampling_design": options["sampling_design"],
            "title": options["title"],
        }

    def target_folder(self, out: Path, fmt: str) -> str:
        return str(out)
