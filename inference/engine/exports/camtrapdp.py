"""Camtrap DP 1.0.2 (https://camtrap-dp.tdwg.org): deployments, media and observations tables and
the package descriptor, as rows from plain records.

Observations: one event-level observation per taxon seen in a sequence of several frames (what
ecologists count), one media-level observation for a frame alone in its sequence, and a media-level
observation for every frame whose label has a box (boxes only exist per frame). A label is a human
classification; without one, the production model's verdict is a machine classification (`unknown`
when it is under the organisation's threshold); with neither, the media are `unclassified`. Nothing
is invented: a field the pool does not hold stays empty, and `missing_metadata` names the required
ones so the export can say so."""

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from faune_platform.boxes import Category
from inference.engine.exports.records import UNKNOWN, Classification, Event, Frame, Site

VERSION = "1.0.2"
BASE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}"
PROFILE_URL = f"{BASE_URL}/camtrap-dp-profile.json"
TABLES = ("deployments", "media", "observations")

DEPLOYMENT_COLUMNS = [
    "deploymentID",
    "locationID",
    "locationName",
    "latitude",
    "longitude",
    "coordinateUncertainty",
    "deploymentStart",
    "deploymentEnd",
    "setupBy",
    "cameraID",
    "cameraModel",
    "cameraDelay",
    "cameraHeight",
    "cameraDepth",
    "cameraTilt",
    "cameraHeading",
    "detectionDistance",
    "timestampIssues",
    "baitUse",
    "featureType",
    "habitat",
    "deploymentGroups",
    "deploymentTags",
    "deploymentComments",
]
MEDIA_COLUMNS = [
    "mediaID",
    "deploymentID",
    "captureMethod",
    "timestamp",
    "filePath",
    "filePublic",
    "fileName",
    "fileMediatype",
    "exifData",
    "favorite",
    "mediaComments",
]
OBSERVATION_COLUMNS = [
    "observationID",
    "deploymentID",
    "mediaID",
    "eventID",
    "eventStart",
    "eventEnd",
    "observationLevel",
    "observationType",
    "cameraSetupType",
    "scientificName",
    "count",
    "lifeStage",
    "sex",
    "behavior",
    "individualID",
    "individualPositionRadius",
    "individualPositionAngle",
    "individualSpeed",
    "bboxX",
    "bboxY",
    "bboxWidth",
    "bboxHeight",
    "classificationMethod",
    "classifiedBy",
    "classificationTimestamp",
    "classificationProbability",
    "observationTags",
    "observationComments",
]
SAMPLING_DESIGNS = (
    "simpleRandom",
    "systematicRandom",
    "clusteredRandom",
    "experimental",
    "targeted",
    "opportunistic",
)
_OFFSET = re.compile(r"^(Z|[+-](0\d|1[0-4]):[0-5]\d)$")
_BAD_PATH = re.compile(r"^[./~]|\.\.")

Object = dict[str, Any]  # a table row or a JSON object of the descriptor


def valid_offset(offset: str) -> bool:
    return bool(_OFFSET.match(offset))


def camera_time(value: dt.datetime | None, offset: str) -> str:
    """A camera's wall-clock time with its UTC offset ("Z" when the offset is unknown or zero)."""
    if value is None:
        return ""
    zone = "Z" if offset in ("", "Z", "+00:00", "-00:00") else offset
    return value.replace(tzinfo=None, microsecond=0).isoformat() + zone


def instant(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _number(value: float | None, digits: int = 6) -> str:
    return "" if value is None else f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")


def camera_model(site: Site) -> str:
    """Camtrap DP writes "manufacturer-model"."""
    return "-".join(part for part in (site.camera_make.strip(), site.camera_model.strip()) if part)


def deployment_row(site: Site, offset: str) -> Object:
    offset = site.utc_offset or offset
    return {
        "deploymentID": site.id,
        "locationName": site.location_name or site.name,
        "latitude": _number(site.latitude),
        "longitude": _number(site.longitude),
        "deploymentStart": camera_time(site.start, offset),
        "deploymentEnd": camera_time(site.end, offset),
        "cameraID": site.camera_id,
        "cameraModel": camera_model(site),
        "habitat": site.habitat,
    }


def missing_metadata(site: Site) -> list[str]:
    """What the deployment lacks that Camtrap DP requires (first) or that users expect of it."""
    missing = []
    if site.latitude is None or site.longitude is None:
        missing.append("coordinates")
    if site.start is None:
        missing.append("set-up date")
    if site.end is None:
        missing.append("pick-up date")
    if not site.camera_id:
        missing.append("camera id")
    if not camera_model(site):
        missing.append("camera model")
    return missing


def safe_path(name: str) -> str:
    """A relative path Camtrap DP accepts (no leading '.', '/' or '~', no '..')."""
    path = name.replace("\\", "/").lstrip("./~")
    while _BAD_PATH.search(path):
        path = _BAD_PATH.sub("_", path).lstrip("./~")
    return path or "media"


def media_row(frame: Frame, offset: str) -> Object:
    return {
        "mediaID": str(frame.id),
        "deploymentID": frame.site_id,
        "timestamp": camera_time(frame.taken_at, offset),
        "filePath": frame.file_path or safe_path(frame.name),
        "filePublic": "false" if frame.people else "true",
        "fileName": frame.basename,
        "fileMediatype": frame.mediatype,
    }


def _classification_fields(said: Classification) -> Object:
    kind = _observation_type(said.kind)
    named = kind in (Category.ANIMAL.observation_type, Category.HUMAN.observation_type)
    return {
        "observationType": kind,
        "scientificName": said.scientific_name if named else "",
        "count": said.count if named and said.count else "",
        "classificationMethod": said.method,
        "classifiedBy": said.by,
        "classificationTimestamp": instant(said.at),
        "classificationProbability": _number(said.probability, 4),
    }


def _observation_type(kind: str) -> str:
    if kind == UNKNOWN:
        return "unknown"
    category = Category.of(kind)
    return category.observation_type if category else "unclassified"


def _unclassified() -> Object:
    return {"observationType": "unclassified"}


def _box_fields(said: Classification) -> Object:
    if said.box is None:
        return {}
    box = said.box
    return {
        "bboxX": _number(box.x),
        "bboxY": _number(box.y),
        "bboxWidth": _number(box.w),
        "bboxHeight": _number(box.h),
    }


def _media_observation(
    frame: Frame, said: Classification | None, offset: str, number: int
) -> Object:
    time = camera_time(frame.taken_at, offset)
    fields = _classification_fields(said) if said else _unclassified()
    return {
        "observationID": f"m{frame.id}-{number}",
        "deploymentID": frame.site_id,
        "mediaID": str(frame.id),
        "eventID": str(frame.sequence_id),
        "eventStart": time,
        "eventEnd": time,
        "observationLevel": "media",
        **fields,
        **(_box_fields(said) if said else {}),
    }


def _merged(labels: list[Classification]) -> Classification:
    """One event-level classification from the frames' labels of one taxon: the most
    individuals seen on one frame, a person's word over a model's, the latest time, the highest
    model probability."""
    human = [label for label in labels if label.method == "human"]
    chosen = human or labels
    counts = [label.count for label in labels if label.count]
    probabilities = [label.probability for label in chosen if label.probability is not None]
    times = [label.at for label in chosen if label.at]
    by = Counter(label.by for label in chosen).most_common(1)[0][0]
    return Classification(
        kind=labels[0].kind,
        taxon_id=labels[0].taxon_id,
        scientific_name=labels[0].scientific_name,
        count=max(counts) if counts else None,
        method=chosen[0].method,
        by=by,
        at=max(times) if times else None,
        probability=None if human or not probabilities else max(probabilities),
    )


def _event_classifications(event: Event) -> list[Classification | None]:
    labelled = [frame.label for frame in event.frames if frame.label]
    if not labelled:
        return [event.verdict]  # None: unclassified
    by_taxon: dict[tuple[str, int | None], list[Classification]] = {}
    for label in labelled:
        by_taxon.setdefault((label.kind, label.taxon_id), []).append(label)
    return [_merged(group) for group in by_taxon.values()]


def observation_rows(event: Event, offset: str) -> list[Object]:
    """The observations of one sequence (see the module's docstring)."""
    if len(event.frames) == 1:
        frame = event.frames[0]
        return [_media_observation(frame, frame.label or frame.prediction, offset, 1)]
    start, end = camera_time(event.start, offset), camera_time(event.end, offset)
    rows = []
    for number, said in enumerate(_event_classifications(event), start=1):
        fields = _classification_fields(said) if said else _unclassified()
        rows.append(
            {
                "observationID": f"e{event.id}-{number}",
                "deploymentID": event.site_id,
                "mediaID": "",
                "eventID": str(event.id),
                "eventStart": start,
                "eventEnd": end,
                "observationLevel": "event",
                **fields,
            }
        )
    rows += [
        _media_observation(frame, frame.label, offset, 1)
        for frame in event.frames
        if frame.label and frame.label.box
    ]
    return rows


def taxonomic_entry(scientific_name: str, name_en: str, name_fr: str) -> Object:
    """A taxon with its English and French names (a French name that only repeats the English one,
    as taxa added without one have, is left out)."""
    names = {
        code: name
        for code, name in (("eng", name_en), ("fra", name_fr if name_fr != name_en else ""))
        if name
    }
    return {"scientificName": scientific_name, **({"vernacularNames": names} if names else {})}


def spatial(points: Iterable[tuple[float | None, float | None]]) -> Object | None:
    """GeoJSON of the deployments' coordinates (latitude, longitude): a point, or the bounding box;
    None without any."""
    known = [
        (lon, lat)
        for lat, lon in points
        if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon)
    ]
    if not known:
        return None
    lons, lats = [p[0] for p in known], [p[1] for p in known]
    if len(set(known)) == 1:
        return {"type": "Point", "coordinates": [lons[0], lats[0]]}
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


def resources() -> list[Object]:
    return [
        {
            "name": name,
            "path": f"{name}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": f"{BASE_URL}/{name}-table-schema.json",
        }
        for name in TABLES
    ]


def datapackage(
    *,
    name: str,
    package_id: str,
    created: dt.datetime,
    title: str,
    contributors: list[Object],
    project: Object,
    spatial_coverage: Object | None,
    temporal: Object | None,
    taxonomic: list[Object],
    source_version: str,
) -> Object:
    """The descriptor. `spatial_coverage` and `temporal` are left out when unknown (the package then
    says what it lacks instead of inventing it)."""
    package = {
        "resources": resources(),
        "profile": PROFILE_URL,
        "name": name,
        "id": package_id,
        "created": instant(created),
        "title": title,
        "contributors": contributors,
        "sources": [{"title": "Faune", "version": source_version}],
        "project": project,
    }
    if spatial_coverage is not None:
        package["spatial"] = spatial_coverage
    if temporal is not None:
        package["temporal"] = temporal
    package["taxonomic"] = taxonomic
    return package


def package_name(text: str) -> str:
    """A Data Package name: lower case letters, digits, '-', '_' and '.'."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "faune-export"
