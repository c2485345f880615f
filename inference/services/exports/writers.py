"""One writer per format: `begin` writes headers, `write` appends a slice of events (and copies
files), `finish` assembles the result. Only files named in `appended` grow across chunks (their
lengths are the job's checkpoint); everything `finish` writes is written whole, so running it again
is harmless."""

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.models import Deployment, Organisation, Taxon, TaxonKind
from inference.engine.exports import camtrapdp, coco, deepfaune, megadetector
from inference.engine.exports.files import append_csv, append_jsonl, write_json_with_arrays
from inference.engine.exports.records import Event, Frame, Site
from inference.services.exports.gather import Slice, site_record
from inference.services.exports.scope import ExportOptions


class Summary:
    """What the export holds so far, kept in the job's state (JSON) between chunks."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = {
            "frames": 0,
            "events": 0,
            "observations": 0,
            "files": 0,
            "blurred": 0,
            "excluded_people": 0,
            "withheld_videos": 0,
            "missing_files": 0,
            "unlabelled": 0,
            "undated": 0,
            "undetected": 0,
            "sites": {},
            "taxa": {},
            "detectors": [],
            **(data or {}),
        }

    def add(self, events: list[Event], part: Slice) -> None:
        data = self.data
        data["events"] += len(events)
        data["excluded_people"] += part.excluded_people
        data["withheld_videos"] += part.withheld_videos
        data["blurred"] += part.blurred
        for event in events:
            for frame in event.frames:
                self._frame(frame)

    def _frame(self, frame: Frame) -> None:
        data = self.data
        data["frames"] += 1
        data["unlabelled"] += frame.label is None
        data["undetected"] += frame.detections is None
        if frame.detector and frame.detector not in data["detectors"]:
            data["detectors"].append(frame.detector)
        said = frame.label
        if said and said.taxon_id:
            data["taxa"][str(said.taxon_id)] = data["taxa"].get(str(said.taxon_id), 0) + 1
        site = data["sites"].setdefault(frame.site_id, {"frames": 0, "first": "", "last": ""})
        site["frames"] += 1
        if frame.taken_at is None:
            data["undated"] += 1
            return
        when = frame.taken_at.isoformat()
        site["first"] = min(site["first"] or when, when)
        site["last"] = max(site["last"] or when, when)


class Writer:
    appended: tuple[str, ...] = ()
    result: str = ""  # the file the user downloads; "" for a folder (downloaded as a zip)
    copies_files = False

    def __init__(self, folder: Path, options: ExportOptions) -> None:
        self.folder, self.options = folder, options

    def begin(self) -> None:
        """Start the appended files over (a start that was interrupted may have left
        some behind)."""
        for name in self.appended:
            (self.folder / name).write_bytes(b"")
        self.headers()

    def headers(self) -> None:
        pass

    def write(self, part: Slice, summary: Summary) -> None:
        raise NotImplementedError

    def finish(self, summary: Summary, *, title: str, organisation_ids: list[int]) -> list[str]:
        """Assemble the result; returns the notes the report shows (what is missing, what was
        left out)."""
        return []

    def _copy(self, part: Slice, frame: Frame, target: str) -> bool:
        """Copy the frame's stored file (people hidden when it shows any) to `target` in
        the folder."""
        stored = part.files.get(frame.id, "")
        if not stored or not default_storage.exists(stored):
            return False
        destination = self.folder / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(stored, "rb") as source, destination.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        return True


def _media_target(frame: Frame) -> str:
    """media/<id>-<name>; a blurred copy is a JPEG whatever the original was."""
    name = frame.basename
    if frame.people and not name.lower().endswith((".jpg", ".jpeg")):
        name = name.rsplit(".", 1)[0] + ".jpg"
    return f"media/{frame.id}-{camtrapdp.safe_path(deepfaune.folder_name(name))}"


class CamtrapDpWriter(Writer):
    appended = ("media.csv", "observations.csv")

    def __init__(self, folder: Path, options: ExportOptions) -> None:
        super().__init__(folder, options)
        self.copies_files = options.media
        self.offset = options.utc_offset

    def headers(self) -> None:
        append_csv(self.folder / "media.csv", camtrapdp.MEDIA_COLUMNS, [], header=True)
        append_csv(self.folder / "observations.csv", camtrapdp.OBSERVATION_COLUMNS, [], header=True)

    def write(self, part: Slice, summary: Summary) -> None:
        media, observations, offsets = [], [], summary.data.setdefault("offsets", {})
        events = [self._with_files(event, part, summary) for event in part.events]
        for event in events:
            offset = offsets.get(event.site_id) or self.offset
            media += [camtrapdp.media_row(frame, offset) for frame in event.frames]
            observations += camtrapdp.observation_rows(event, offset)
        append_csv(self.folder / "media.csv", camtrapdp.MEDIA_COLUMNS, media)
        summary.data["observations"] += append_csv(
            self.folder / "observations.csv", camtrapdp.OBSERVATION_COLUMNS, observations
        )
        named = summary.data.setdefault("scientific_names", [])  # the package's taxonomic coverage
        named += sorted(
            {row["scientificName"] for row in observations if row.get("scientificName")}
            - set(named)
        )
        summary.add(events, part)

    def _with_files(self, event: Event, part: Slice, summary: Summary) -> Event:
        if not self.copies_files:
            return event
        frames = []
        for frame in event.frames:
            target = _media_target(frame)
            if self._copy(part, frame, target):
                summary.data["files"] += 1
                mediatype = "image/jpeg" if frame.people else frame.mediatype
                frames.append(replace(frame, file_path=target, mediatype=mediatype))
            else:
                summary.data["missing_files"] += 1
                frames.append(frame)
        return replace(event, frames=tuple(frames))

    def finish(self, summary: Summary, *, title: str, organisation_ids: list[int]) -> list[str]:
        sites = _sites(summary)
        offsets = summary.data.get("offsets", {})
        rows = [
            camtrapdp.deployment_row(site, offsets.get(site.id) or self.offset) for site in sites
        ]
        path = self.folder / "deployments.csv"
        path.write_bytes(b"")
        append_csv(path, camtrapdp.DEPLOYMENT_COLUMNS, rows, header=True)
        descriptor, notes = _descriptor(
            summary, sites, title=title, organisation_ids=organisation_ids, options=self.options
        )
        write_json(self.folder / "datapackage.json", data=descriptor)
        return notes + _site_notes(sites, offsets, self.offset)


def write_json(path: Path, *, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _sites(summary: Summary) -> list[Site]:
    """The deployments the export holds media of, as records (those without a deployment as
    bare ones)."""
    mapping = summary.data.get("site_keys", {})
    keys = {site_id: key for key, site_id in mapping.items() if site_id in summary.data["sites"]}
    deployments = Deployment.objects.in_bulk([int(key) for key in keys.values() if key.isdigit()])
    organisations = dict(Organisation.objects.values_list("pk", "name"))
    offsets = summary.data.get("offsets", {})
    records = []
    for site_id in sorted(summary.data["sites"]):
        key = keys.get(site_id, "")
        deployment = deployments.get(int(key)) if key.isdigit() else None
        organisation = organisations.get(deployment.organisation_id, "") if deployment else ""
        records.append(
            site_record(
                deployment,
                site_id=site_id,
                offset=offsets.get(site_id, ""),
                organisation=organisation,
            )
        )
    return records


def _descriptor(
    summary: Summary,
    sites: list[Site],
    *,
    title: str,
    organisation_ids: list[int],
    options: ExportOptions,
) -> tuple[dict[str, Any], list[str]]:
    notes = []
    names = sorted(
        Organisation.objects.filter(pk__in=organisation_ids).values_list("name", flat=True)
    )
    taxa = Taxon.objects.in_bulk([int(pk) for pk in summary.data["taxa"]])
    observed = summary.data.get("scientific_names", [])
    # Several taxa may share a scientific name: the seeded one (ordered last, so written last)
    # speaks for it.
    named = {
        t.scientific_name: t
        for t in Taxon.objects.filter(scientific_name__in=observed).order_by(
            F("deepfaune_order").asc(nulls_first=True), "-pk"
        )
    }
    unnamed = sorted(
        t.name_en for t in taxa.values() if not t.scientific_name and t.kind == TaxonKind.ANIMAL
    )
    if unnamed:
        notes.append(
            _(
                "Taxa without a scientific name (scientificName left empty): %(names)s. Add it on "
                "the Taxa page."
            )
            % {"names": ", ".join(unnamed)}
        )
    coverage = camtrapdp.spatial((site.latitude, site.longitude) for site in sites)
    if coverage is None:
        notes.append(
            _(
                "No deployment has coordinates: the package has no spatial coverage and is not "
                "valid Camtrap DP until they are entered."
            )
        )
    temporal = _temporal(summary, sites)
    if temporal is None:
        notes.append(
            _("No dated media: the package has no temporal coverage and is not valid Camtrap DP.")
        )
    if summary.data["undated"]:
        notes.append(
            _(
                "%(count)s media have no date: their timestamp is empty, and the package is not "
                "valid Camtrap DP until they are dated (or left out with a date filter)."
            )
            % {"count": summary.data["undated"]}
        )
    created = timezone.now()
    package_title = options.title or _("Faune export: %(scope)s") % {"scope": title}
    descriptor = camtrapdp.datapackage(
        name=camtrapdp.package_name(f"faune-{title}-{created:%Y%m%d}"),
        package_id=str(uuid.uuid4()),
        created=created,
        title=package_title,
        contributors=[{"title": name, "role": "rightsHolder"} for name in names],
        project={
            "title": package_title,
            "samplingDesign": options.sampling_design,
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media", "event"],
        },
        spatial_coverage=coverage,
        temporal=temporal,
        taxonomic=[
            camtrapdp.taxonomic_entry(name, named[name].name_en, named[name].name_fr)
            for name in sorted(observed)
            if name in named
        ],
        source_version=_platform_version(),
    )
    return descriptor, notes


def _platform_version() -> str:
    try:
        return metadata.version("faune-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def _temporal(summary: Summary, sites: list[Site]) -> dict[str, str] | None:
    """From the first deployment's set-up to the last one's pick-up; the media's own dates where
    those are unknown."""
    seen = summary.data["sites"]
    starts = [site.start.date() if site.start else _date(seen[site.id]["first"]) for site in sites]
    ends = [site.end.date() if site.end else _date(seen[site.id]["last"]) for site in sites]
    known_starts, known_ends = [d for d in starts if d], [d for d in ends if d]
    if not known_starts or not known_ends:
        return None
    return {"start": min(known_starts).isoformat(), "end": max(known_ends).isoformat()}


def _date(text: str) -> dt.date | None:
    return dt.datetime.fromisoformat(text).date() if text else None


def _site_notes(sites: list[Site], offsets: dict[str, str], default_offset: str) -> list[str]:
    notes = []
    for site in sites:
        missing = camtrapdp.missing_metadata(site)
        if missing:
            notes.append(
                _("Deployment %(site)s lacks: %(missing)s.")
                % {"site": site.id, "missing": ", ".join(missing)}
            )
    unzoned = [site.id for site in sites if not offsets.get(site.id)]
    if unzoned:
        zone = default_offset or "UTC"
        notes.append(
            _(
                "Camera clocks carry no time zone: the times of %(count)s deployment(s) are "
                "written as %(zone)s."
            )
            % {"count": len(unzoned), "zone": zone}
        )
    return notes


class CocoWriter(Writer):
    appended = ("images.jsonl", "annotations.jsonl")
    result = "export.json"

    def write(self, part: Slice, summary: Summary) -> None:
        append_jsonl(
            self.folder / "images.jsonl",
            (row for e in part.events for row in coco.image_entries(e)),
        )
        append_jsonl(
            self.folder / "annotations.jsonl",
            (row for e in part.events for row in coco.annotation_entries(e)),
        )
        summary.add(part.events, part)

    def finish(self, summary: Summary, *, title: str, organisation_ids: list[int]) -> list[str]:
        taxa = Taxon.objects.in_bulk([int(pk) for pk in summary.data["taxa"]])
        categories = [
            {"id": t.pk, "name": t.name_en} for t in sorted(taxa.values(), key=lambda t: t.pk)
        ]
        head = coco.head(
            description=_("Faune export: %(scope)s") % {"scope": title},
            created=timezone.now(),
            categories=categories,
        )
        write_json_with_arrays(
            self.folder / self.result,
            head,
            {
                "images": self.folder / "images.jsonl",
                "annotations": self.folder / "annotations.jsonl",
            },
        )
        unlabelled = summary.data["unlabelled"]
        return (
            [
                _("%(count)s image(s) carry no label: they are listed without annotation.")
                % {"count": unlabelled}
            ]
            if unlabelled
            else []
        )


class MegaDetectorWriter(Writer):
    appended = ("images.jsonl",)
    result = "export.json"

    def write(self, part: Slice, summary: Summary) -> None:
        entries = (
            megadetector.image_entry(frame) for event in part.events for frame in event.frames
        )
        append_jsonl(
            self.folder / "images.jsonl", (entry for entry in entries if entry is not None)
        )
        summary.add(part.events, part)

    def finish(self, summary: Summary, *, title: str, organisation_ids: list[int]) -> list[str]:
        head = megadetector.head(detectors=summary.data["detectors"], completed=timezone.now())
        write_json_with_arrays(
            self.folder / self.result, head, {"images": self.folder / "images.jsonl"}
        )
        missing = summary.data["undetected"]
        return (
            [
                _("%(count)s image(s) were never seen by a detector: they are left out.")
                % {"count": missing}
            ]
            if missing
            else []
        )


class DeepFauneWriter(Writer):
    appended = ("deepfaune.csv",)
    result = "deepfaune.csv"

    def __init__(
        self, folder: Path, options: ExportOptions, *, excel: bool = False, folders: bool = False
    ) -> None:
        super().__init__(folder, options)
        self.excel, self.copies_files = excel, folders
        self.result = "" if folders else ("deepfaune.xlsx" if excel else "deepfaune.csv")
        self.language = options.language if options.language in deepfaune.LANGUAGES else "fr"

    def headers(self) -> None:
        append_csv(self.folder / "deepfaune.csv", deepfaune.COLUMNS, [], header=True)

    def write(self, part: Slice, summary: Summary) -> None:
        threshold = settings.FAUNE["DETECTION_THRESHOLD"]
        rows = []
        unlabelled = deepfaune.WORDS[self.language]["unclassified"]  # no label and no prediction
        for event in part.events:
            for frame, row in zip(
                event.frames,
                deepfaune.table_rows(event, language=self.language, threshold=threshold),
                strict=True,
            ):
                if self.copies_files:
                    target = deepfaune.sorted_path(row, frame, unlabelled=unlabelled)
                    copied = self._copy(part, frame, target)
                    summary.data["files" if copied else "missing_files"] += 1
                rows.append(row)
        append_csv(self.folder / "deepfaune.csv", deepfaune.COLUMNS, rows)
        summary.add(part.events, part)

    def finish(self, summary: Summary, *, title: str, organisation_ids: list[int]) -> list[str]:
        if self.excel:
            deepfaune.csv_to_xlsx(self.folder / "deepfaune.csv", self.folder / "deepfaune.xlsx")
        missing = summary.data["undetected"]
        return (
            [
                _(
                    "%(count)s image(s) were never seen by a detector: their count and humancount "
                    "are empty."
                )
                % {"count": missing}
            ]
            if missing
            else []
        )


def writer_for(fmt: str, *, folder: Path, options: ExportOptions) -> Writer:
    from inference.models import ExportFormat

    # keyed by the plain value: `fmt` is a str, checked by options_check before any job is made
    writers: dict[str, Callable[[], Writer]] = {
        ExportFormat.CAMTRAP_DP: lambda: CamtrapDpWriter(folder, options),
        ExportFormat.COCO: lambda: CocoWriter(folder, options),
        ExportFormat.MEGADETECTOR: lambda: MegaDetectorWriter(folder, options),
        ExportFormat.DEEPFAUNE_CSV: lambda: DeepFauneWriter(folder, options),
        ExportFormat.DEEPFAUNE_XLSX: lambda: DeepFauneWriter(folder, options, excel=True),
        ExportFormat.DEEPFAUNE_FOLDERS: lambda: DeepFauneWriter(folder, options, folders=True),
    }
    return writers[fmt]()
