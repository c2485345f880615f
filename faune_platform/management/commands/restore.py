from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faune_platform.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup written by `backup DIR`: the database, media and data-dir files; the "
        "similarity indexes are rebuilt. Refuses to replace existing data without --replace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", type=Path, help="a folder written by `manage.py backup`")
        parser.add_argument(
            "--replace", action="store_true", help="replace the images, labels and models here"
        )

    def handle(self, *args: object, **options: Any) -> None:
        try:
            manifest = restore(options["dir"], replace=options["replace"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Restored {sum(manifest['rows'].values()):,} rows and {len(manifest['files']):,} "
            f"files from the backup of {manifest['created_at']}."
        )
