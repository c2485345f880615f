"""python manage.py import_images PATH --organisation ORG [--deployment NAME] [--format
auto|plain|classes|coco] [--maxlag 20] [--map CLASS=TAXON ...] [--mapping FILE.json] [--create-taxa]

Imports a folder partners already organised. Class names are mapped to taxa as on the import page
(same suggestions, same rules); a class without a taxon stops the import before anything is stored,
and the message lists every class with its file count and suggestion. The last line printed is a
JSON object of counts."""

import json
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.ingest.layouts import FORMATS
from annotation.ingest.plans import LayoutError
from annotation.models import BatchKind, BatchStatus
from annotation.services.batches import batch_announce, batch_finish, batch_open
from annotation.services.class_mapping import Choice, ClassRow, UnmappedClasses, choice_from_text
from annotation.services.imports import import_prepare, import_run
from annotation.services.organisations import organisation_get_or_create
from faune_platform.responses import message_of


class Command(BaseCommand):
    help = (
        "Import a folder of camera-trap media, unlabelled or already labelled, into an "
        "organisation's pool."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--organisation", required=True, help="organisation name; created when missing"
        )
        parser.add_argument(
            "--deployment", help="put every file in this deployment instead of one per folder"
        )
        parser.add_argument("--format", choices=FORMATS, default="auto")
        parser.add_argument(
            "--maxlag", type=float, help="seconds between frames that still make one sequence"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="CLASS=TAXON",
            help="map a class name to a taxon (id, slug, French or English name); '-' imports "
            "its files without that label; repeat for each class",
        )
        parser.add_argument(
            "--mapping",
            type=Path,
            metavar="FILE",
            help='a JSON object {"class": "taxon" | null | {"name_en", "name_fr", '
            '"scientific_name"}} (null: no label; an object: a new taxon)',
        )
        parser.add_argument(
            "--create-taxa",
            action="store_true",
            help="create a taxon named after each class that matches none and resembles none",
        )

    def handle(self, *args: object, **options: object) -> None:
        root: Path = options["path"].expanduser().resolve()
        if options["maxlag"] is not None and options["maxlag"] < 0:
            raise CommandError("--maxlag must be zero or more seconds")
        try:
            choices = _choices(options["mapping"], options["map"])
            organisation, created = organisation_get_or_create(name=options["organisation"])
            prepared = import_prepare(
                root=root,
                fmt=options["format"],
                deployment_name=options["deployment"],
                create_taxa=options["create_taxa"],
                choices=choices,
            )
        except UnmappedClasses as error:
            raise CommandError(_unmapped_help(error)) from None
        except (LayoutError, ValidationError, PermissionDenied) as error:
            raise CommandError(" ".join(getattr(error, "messages", [message_of(error)]))) from None
        if created:
            self.stdout.write(f"Created organisation {organisation.name!r}.")
        for taxon in prepared.created_taxa:
            self.stdout.write(f"Created taxon {taxon.name_en!r}.")
        self.stdout.write(
            f"Importing {len(prepared.plan.files)} file(s) from {root} as {prepared.plan.format}."
        )
        batch = batch_open(
            organisation=organisation,
            uploader=None,
            kind=BatchKind.IMPORT,
            source_name=str(root),
            params={"format": prepared.plan.format},
        )
        batch.class_mapping = prepared.class_mapping
        batch.save(update_fields=["class_mapping"])
        counts = import_run(
            batch=batch, prepared=prepared, maxlag_s=options["maxlag"], on_progress=self._progress
        )
        batch_finish(batch=batch, status=BatchStatus.DONE)
        batch_announce(batch)  # pre-labelling runs in the worker
        for item in batch.items.filter(outcome="rejected"):
            self.stderr.write(f"rejected {item.name}: {item.reason}")
        self.stdout.write(
            json.dumps(
                {
                    "imported": counts["imported"],
                    "duplicates": counts["duplicate"],
                    "rejected": counts["rejected"],
                    "sequences": counts["sequences"],
                    "labelled": counts["labelled"],
                }
            )
        )

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 250 == 0:
            self.stderr.write(f"{done}/{total} files")


def _choices(mapping_file: Path | None, pairs: list[str]) -> dict[str, Choice]:
    """--mapping's object, then each --map CLASS=TAXON over it."""
    raw: dict[str, object] = {}
    if mapping_file is not None:
        try:
            raw = json.loads(mapping_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValidationError(
                f"--mapping {mapping_file}: not a readable JSON file ({error})"
            ) from None
        if not isinstance(raw, dict):
            raise ValidationError(
                f"--mapping {mapping_file}: a JSON object of class name to taxon is expected"
            )
    for pair in pairs:
        name, sign, taxon = pair.rpartition("=")
        if not sign or not name.strip():
            raise ValidationError(f"--map {pair!r}: write CLASS=TAXON, e.g. --map 'red_fox=fox'")
        raw[name.strip()] = taxon.strip()
    return {name: choice_from_text(value) for name, value in raw.items()}


def _unmapped_help(error: UnmappedClasses) -> str:
    """Every class with its count and what it would become, then how to decide the missing ones."""
    lines = [str(error), "", "class (files): taxon"]
    lines += [
        f"  {row.name} ({row.images}): {_row_state(row, row.name in error.missing)}"
        for row in error.rows
    ]
    lines += [
        "",
        "Map them with --map 'CLASS=TAXON' (repeat it; TAXON '-' imports the files without that "
        "label), or --mapping FILE.json; --create-taxa creates a taxon for each class nothing "
        "resembles.",
    ]
    return "\n".join(lines)


def _row_state(row: ClassRow, missing: bool) -> str:
    suggestion = row.suggestion
    if suggestion is None:
        return "no taxon (nothing resembles it)"
    if not missing:
        return f"{suggestion.taxon.slug} ({suggestion.why})"
    return f"no taxon yet; suggested {suggestion.taxon.slug} ({suggestion.why})"
