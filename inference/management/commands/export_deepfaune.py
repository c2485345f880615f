"""python manage.py export_deepfaune OUT.csv|OUT.xlsx|OUT_DIR [--organisation ORG] [--deployment
NAME ...] [--language fr|en] [--people blur|exclude]

Writes DeepFaune's result table (filename, date, seqnum, prediction, score, top1, count,
humancount) as CSV or XLSX; given a folder instead, sorts the images into one sub-folder per class
beside the table."""

from pathlib import Path

from django.core.management.base import CommandParser

from inference.engine.exports.deepfaune import LANGUAGES
from inference.management.commands._export import ExportCommand
from inference.models import ExportFormat


class Command(ExportCommand):
    help = (
        "Export DeepFaune's result table (CSV or XLSX), or the images sorted into folders by class."
    )
    out_help = "a .csv or .xlsx file, or a new or empty folder for the images sorted by class"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--language", choices=LANGUAGES, default="fr", help="class names (DeepFaune: fr)"
        )

    def export_format(self, out: Path, options: dict) -> str:
        suffix = out.suffix.lower()
        if suffix == ".csv":
            return ExportFormat.DEEPFAUNE_CSV
        if suffix == ".xlsx":
            return ExportFormat.DEEPFAUNE_XLSX
        return ExportFormat.DEEPFAUNE_FOLDERS

    def export_options(self, options: dict) -> dict:
        return {"language": options["language"]}

    def target_folder(self, out: Path, fmt: str) -> str:
        return str(out) if fmt == ExportFormat.DEEPFAUNE_FOLDERS else ""
