from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faune_platform.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Back up the database, media, model files, round reports, releases and waiting "
        "imports into DIR."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", type=Path, help="a new or empty folder")

    def handle(self, *args: object, **options: Any) -> None:
        try:
            manifest = backup(options["dir"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        rows = sum(manifest["rows"].values())
        self.stdout.write(
            f"Backed up {rows:,} rows and {len(manifest['files']):,} files into {options['dir']}."
        )
