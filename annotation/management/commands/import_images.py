"""python manage.py import_images PATH --organisation ORG [--deployment NAME] [--format auto|plain|classes|coco]
[--maxlag 20] [--create-taxa]

Imports a folder partners already organised. The last line printed is a JSON object of counts."""
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.ingest.layouts import FORMATS, LayoutError
from annotation.models import BatchKind, BatchStatus
from annotation.services.batches import batch_announce, batch_finish, batch_open
from annotation.services.imports import UnknownClasses, import_prepare, import_run
from annotation.services.organisations import organisation_get_or_create


class Command(BaseCommand):
    help = "Import a folder of camera-trap media, unlabelled or already labelled, into an organisation's pool."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--organisation", required=True, help="organisation name; created when missing")
        parser.add_argument("--deployment", help="put every file in this deployment instead of one per folder")
        parser.add_argument("--format", choices=FORMATS, default="auto")
        parser.add_argument("--maxlag", type=float, help="seconds between frames that still make one sequence")
        parser.add_argument("--create-taxa", action="store_true", help="create taxa for unknown class names")

    def handle(self, *args: object, **options: object) -> None:
        root: Path = options["path"].expanduser().resolve()
        if options["maxlag"] is not None and options["maxlag"] < 0:
            raise CommandError("--maxlag must be zero or more seconds")
        try:
            organisation, created = organisation_get_or_create(name=options["organisation"])
            prepared = import_prepare(root=root, fmt=options["format"], deployment_name=options["deployment"],
                                      create_taxa=options["create_taxa"])
        except (LayoutError, UnknownClasses, ValidationError) as error:
            raise CommandError(str(error)) from None
        if created:
            self.stdout.write(f"Created organisation {organisation.name!r}.")
        for taxon in prepared.created_taxa:
            self.stdout.write(f"Created taxon {taxon.name_en!r}.")
        self.stdout.write(f"Importing {len(prepared.plan.files)} file(s) from {root} as {prepared.plan.format}.")
        batch = batch_open(organisation=organisation, uploader=None, kind=BatchKind.IMPORT,
                           source_name=str(root), params={"format": prepared.plan.format})
        counts = import_run(batch=batch, prepared=prepared, maxlag_s=options["maxlag"], on_progress=self._progress)
        batch_finish(batch=batch, status=BatchStatus.DONE)
        batch_announce(batch)  # pre-labelling runs in the worker
        for item in batch.items.filter(outcome="rejected"):
            self.stderr.write(f"rejected {item.name}: {item.reason}")
        self.stdout.write(json.dumps({"imported": counts["imported"], "duplicates": counts["duplicate"],
                                      "rejected": counts["rejected"], "sequences": counts["sequences"],
                                      "labelled": counts["labelled"]}))

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 250 == 0:
            self.stderr.write(f"{done}/{total} files")
