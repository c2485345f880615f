"""What the export commands share: the scope options, running the export job in this process (the
same job as the pages queue, worked to the end here), and printing what the export lacks."""

import json
import shutil
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Deployment, Organisation
from faune_platform.jobs import job_claim, job_start
from inference.models import ExportJob
from inference.services.exports.jobs import export_folder, export_request, export_work
from inference.services.exports.scope import ExportError, ExportOptions, ExportScope


class ExportCommand(BaseCommand):
    out_help = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help=self.out_help)
        parser.add_argument("--organisation", help="only this organisation's images (name or id)")
        parser.add_argument(
            "--deployment",
            action="append",
            default=[],
            help="only this deployment (name within --organisation, or id); repeatable",
        )
        parser.add_argument(
            "--people",
            choices=("blur", "exclude"),
            default="blur",
            help="images showing people: blurred (default) or left out",
        )
        parser.add_argument(
            "--utc-offset",
            default="",
            help="the cameras' time zone when the pool does not know it, e.g. +01:00 (default UTC)",
        )

    def export_format(self, out: Path, options: dict) -> str:
        raise NotImplementedError

    def export_options(self, options: dict) -> dict:
        return {}

    def target_folder(self, out: Path, fmt: str) -> str:
        """Where the job writes: the output folder itself, or "" (the data folder) for
        one-file results."""
        return ""

    def handle(self, *args: object, **options: object) -> None:
        out: Path = options["out"].expanduser().resolve()
        fmt = self.export_format(out, options)
        folder = self.target_folder(out, fmt)
        if folder and out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty: give a new or empty folder")
        scope = self._scope(options)
        settings = ExportOptions(
            people=options["people"],
            utc_offset=options["utc_offset"],
            **self.export_options(options),
        )
        try:
            job = export_request(
                user=None, fmt=fmt, scope=scope, options=settings, folder=folder, enqueue=False
            )
        except (ExportError, PermissionDenied) as error:
            raise CommandError(str(error)) from None
        job = job_claim(ExportJob, job.pk, job_start(job))
        self.stderr.write(f"Exporting {job.total} image(s) as {fmt}.")
        if not export_work(job, clock=None):
            raise CommandError("the export was taken over by another process")
        job.refresh_from_db()
        self._deliver(job, out, folder)
        for note in job.report.get("notes", []):
            self.stdout.write(note)
        counts = {key: value for key, value in job.report.items() if isinstance(value, int)}
        self.stdout.write(json.dumps({"out": str(out), **counts}))

    def _deliver(self, job: ExportJob, out: Path, folder: str) -> None:
        if folder:
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(export_folder(job) / job.report["result"], out)
        shutil.rmtree(export_folder(job), ignore_errors=True)

    def _scope(self, options: dict) -> ExportScope:
        organisation = None
        if options["organisation"]:
            text = options["organisation"]
            organisation = Organisation.objects.filter(name=text).first() or (
                Organisation.objects.filter(pk=int(text)).first() if text.isdigit() else None
            )
            if organisation is None:
                raise CommandError(f"no organisation named {text!r}")
        deployments = tuple(self._deployment(text, organisation) for text in options["deployment"])
        return ExportScope(
            organisation=organisation.pk if organisation else None, deployments=deployments
        )

    def _deployment(self, text: str, organisation: Organisation | None) -> int:
        found = Deployment.objects.filter(name=text)
        if organisation is not None:
            found = found.filter(organisation=organisation)
        matches = list(found[:2])
        if not matches and text.isdigit():
            matches = list(Deployment.objects.filter(pk=int(text)))
        if len(matches) != 1:
            where = (
                f" in {organisation.name}"
                if organisation
                else " (add --organisation when two share a name)"
            )
            raise CommandError(f"no single deployment named {text!r}{where}")
        return matches[0].pk
