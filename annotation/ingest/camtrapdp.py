"""Reading a Camtrap DP package (https://camtrap-dp.tdwg.org) into an import plan: each media row
becomes a file of its deployment (named by its deploymentID, created with the deployment's
metadata), its observations become labels (scientific name, count, box), its event its sequence. No
Django here.

Times: the pool keeps cameras' wall-clock time without a zone, so timestamps are read as the
camera's local time and each deployment's UTC offset is kept on the import (exports write it back).
Media hosted elsewhere (an URL in `filePath`) are reported, never downloaded: the platform works
offline; files must sit in the package folder under their relative `filePath`. What the pool has no
column for (who classified, by which method, how sure, when) is kept in `ImportPlan.provenance` for
the import to record.
"""

import csv
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from annotation.ingest.plans import (
    ImportPlan,
    LayoutError,
    PlannedFile,
    PlannedLabel,
    present,
    resolved,
)
from faune_platform.boxes import NOT_ANIMAL, Box, Category
from faune_platform.errors import gettext_noop

PACKAGE_FILE = "datapackage.json"
TABLES = ("deployments", "media", "observations")
OWN_FILES = {PACKAGE_FILE, "deployments.csv", "media.csv", "observations.csv"}
MAX_COUNT = 2**31 - 1  # what the database's integer column holds


Row = dict[str, Any]  # a row of a package's CSV table, or a JSON object of its descriptor, as read


def find_package(root: Path) -> Path | None:
    """The package's datapackage.json: `root` itself, or inside it, or one folder down (a zip of
    a folder)."""
    if root.is_file():
        return root if root.name == PACKAGE_FILE else None
    if (root / PACKAGE_FILE).is_file():
        return root / PACKAGE_FILE
    found = sorted(root.glob(f"*/{PACKAGE_FILE}"))
    return found[0] if len(found) == 1 else None


def _read_descriptor(index: Path) -> Row:
    try:
        data = json.loads(index.read_text(encoding="utf-8-sig"))  # a BOM, as Windows tools write
    except (OSError, ValueError) as error:
        raise LayoutError(
            gettext_noop("%(file)s is not a readable Data Package descriptor (%(detail)s)"),
            file=index.name,
            detail=str(error),
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise LayoutError(
            gettext_noop(
                "%(file)s: a Camtrap DP descriptor is a JSON object with a 'resources' list"
            ),
            file=index.name,
        )
    return data


def _table(base: Path, descriptor: Row, name: str) -> list[Row]:
    resource = next(
        (r for r in descriptor["resources"] if isinstance(r, dict) and r.get("name") == name), None
    )
    path = resource.get("path") if resource else f"{name}.csv"
    if not isinstance(path, str) or ".." in Path(path).parts or Path(path).is_absolute():
        raise LayoutError(
            gettext_noop("%(file)s: the '%(name)s' resource must be a CSV file inside the package"),
            file=PACKAGE_FILE,
            name=name,
        )
    try:
        with (base / path).open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise LayoutError(
            gettext_noop("the package's %(name)s table (%(path)s) cannot be read: %(detail)s"),
            name=name,
            path=path,
            detail=str(error),
        ) from None


def parse_time(text: str) -> tuple[dt.datetime | None, str]:
    """(the camera's wall-clock time, naive; its UTC offset as '+01:00' or 'Z') from an ISO
    8601 timestamp."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None, ""
    if value.tzinfo is None:
        return value, ""
    offset = value.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    zone = (
        "Z"
        if minutes == 0
        else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    )
    return value.replace(tzinfo=None), zone


def _float(text: str | None) -> float | None:
    if text is None:  # a column the table lacks, or a cell missing from a short row
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _deployment_details(row: Row) -> Row:
    make, _, model = (row.get("cameraModel") or "").partition("-")
    start, _zone = parse_time(row.get("deploymentStart") or "")
    end, _zone = parse_time(row.get("deploymentEnd") or "")
    latitude, longitude = _float(row.get("latitude")), _float(row.get("longitude"))
    return {
        "location_name": (row.get("locationName") or "")[:200],
        "latitude": latitude if latitude is not None and -90 <= latitude <= 90 else None,
        "longitude": longitude if longitude is not None and -180 <= longitude <= 180 else None,
        "camera_id": (row.get("cameraID") or "")[:100],
        "camera_make": make[:100] if model else "",
        "camera_model": (model or make)[:100],
        "start": start,
        "end": end,
        "habitat": row.get("habitat") or "",
    }


def _box(row: Row) -> Box | None:
    values = [_float(row.get(name)) for name in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")]
    known = [value for value in values if value is not None]
    if len(known) < len(values):
        return None
    return Box.clipped(*known)


def _class_name(row: Row) -> str:
    category = Category.from_observation_type(row.get("observationType") or "")
    name = (row.get("scientificName") or "").strip()
    if category in (Category.ANIMAL, Category.HUMAN) and name:
        return name
    return category.value if category in NOT_ANIMAL else ""  # the taxon of that category's slug


def _count(row: Row) -> int | None:
    text = (row.get("count") or "").strip()
    # ASCII digits only: "²" is a digit to isdigit(), not to int()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if 1 <= int(text) <= MAX_COUNT else None


def _provenance(row: Row, class_name: str, box: Box | None) -> Row:
    return {
        "class": class_name,
        "box": box.to_list(digits=5) if box else None,
        "method": row.get("classificationMethod") or "",
        "by": row.get("classifiedBy") or "",
        "at": row.get("classificationTimestamp") or "",
        "probability": _float(row.get("classificationProbability")),
    }


class _Observations:
    """The package's observations, by media (media level) and by deployment (event level, matched
    by time)."""

    def __init__(self, rows: list[Row]) -> None:
        self.by_media: dict[str, list[Row]] = defaultdict(list)
        self.events: dict[str, list[tuple[dt.datetime, dt.datetime, Row]]] = defaultdict(list)
        for row in rows:
            if row.get("observationLevel") == "media" and row.get("mediaID"):
                self.by_media[row["mediaID"]].append(row)
            elif row.get("observationLevel") == "event":
                start, end = _instant(row.get("eventStart")), _instant(row.get("eventEnd"))
                if start and end:
                    self.events[row.get("deploymentID") or ""].append((start, end, row))

    def of(self, media: Row) -> list[Row]:
        """A media's own observations; when it has none, those of the events its time falls in."""
        own = self.by_media.get(media.get("mediaID") or "")
        if own:
            return own
        when = _instant(media.get("timestamp"))
        return [
            row
            for start, end, row in self.events.get(media.get("deploymentID") or "", [])
            if when and start <= when <= end
        ]


def _instant(text: str | None) -> dt.datetime | None:
    """An aware instant for comparing event windows with media times (a naive time is taken
    as UTC)."""
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _media_file(base: Path, row: Row, deployment: str | None) -> PlannedFile:
    path_text = (row.get("filePath") or "").strip()
    name = path_text if path_text and "://" not in path_text else (row.get("fileName") or path_text)
    item = PlannedFile(None, name, deployment or row.get("deploymentID") or base.name)
    if "://" in path_text:
        item.refuse(
            gettext_noop(
                "hosted at %(url)s: not downloaded (the platform works offline); put the file in "
                "the package folder and give its relative path in filePath"
            ),
            url=path_text,
        )
        return item
    path = resolved(base, path_text)
    if not path_text or (path and base.resolve() not in path.parents):
        item.refuse(gettext_noop("media.csv gives no path inside the package folder for this file"))
    elif path is None or not present(path):
        item.refuse(
            gettext_noop("listed in media.csv but missing on disk: %(path)s"), path=path_text
        )
    else:
        item.path = path
    return item


def plan_camtrapdp(
    root: Path, *, deployment: str | None, fallback: str | None = None
) -> ImportPlan:  # noqa: ARG001
    # `fallback` is unused: every media row of a package names its deployment (the schema
    # requires it).
    index = find_package(root)
    if index is None:
        raise LayoutError(
            gettext_noop("no %(file)s found (a Camtrap DP package has one beside its CSV tables)"),
            file=PACKAGE_FILE,
        )
    base = index.parent
    descriptor = _read_descriptor(index)
    deployments = {
        row.get("deploymentID") or "": row for row in _table(base, descriptor, "deployments")
    }
    observations = _Observations(_table(base, descriptor, "observations"))
    plan = ImportPlan("camtrapdp", [])
    classifications: dict[str, list[Row]] = {}
    offsets: dict[str, str] = {}
    listed: set[Path | None] = set()
    for row in _table(base, descriptor, "media"):
        item = _media_file(base, row, deployment)
        listed.add(item.path)
        taken, zone = parse_time(row.get("timestamp") or "")
        item.taken_at = taken
        offsets.setdefault(item.deployment, zone)
        for observation in observations.of(row):
            name, box = _class_name(observation), _box(observation)
            if not name:
                continue  # unknown, unclassified, or an animal nobody named: nothing to label
            item.labels.append(PlannedLabel(name, box, _count(observation)))
            item.sequence_id = item.sequence_id or observation.get("eventID") or ""
            classifications.setdefault(item.name, []).append(_provenance(observation, name, box))
        plan.files.append(item)
    plan.files += _unlisted(base, listed, deployment)
    if not deployment:
        plan.deployments = {
            name: _deployment_details(row) for name, row in deployments.items() if name
        }
    plan.class_details = _taxonomic(descriptor)
    plan.provenance = {
        "package": {
            "name": descriptor.get("name", ""),
            "id": descriptor.get("id", ""),
            "title": descriptor.get("title", ""),
        },
        "utc_offsets": {name: zone for name, zone in offsets.items() if zone},
        "classifications": classifications,
    }
    return plan


def _unlisted(base: Path, listed: set[Path | None], deployment: str | None) -> list[PlannedFile]:
    """Files of the folder that media.csv does not list (the package's own files aside): reported,
    not imported."""
    unlisted = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        relative = path.relative_to(base).as_posix()
        if relative in OWN_FILES or path.resolve() in listed:
            continue
        stray = PlannedFile(path, relative, deployment or base.name)
        stray.refuse(gettext_noop("not listed in media.csv"))
        unlisted.append(stray)
    return unlisted


def _taxonomic(descriptor: Row) -> dict[str, dict[str, Any]]:
    """{scientific name: a new taxon's names} from the package's taxonomic coverage."""
    details: dict[str, dict[str, Any]] = {}
    for entry in descriptor.get("taxonomic") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("scientificName"), str):
            continue
        names = entry.get("vernacularNames")
        if not isinstance(names, dict):
            names = {}
        details[entry["scientificName"]] = {
            "scientific_name": entry["scientificName"],
            "name_en": str(names.get("eng") or ""),
            "name_fr": str(names.get("fra") or ""),
        }
    return details
