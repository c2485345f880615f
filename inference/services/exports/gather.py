"""Reading the pool into the plain records the format writers take
(inference/engine/exports/records.py), a slice of sequences at a time, in a bounded number of
queries per slice."""

import datetime as dt
import mimetypes
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet

from annotation.models import (
    Annotation,
    BatchItem,
    Deployment,
    Image,
    LabelSource,
    MediaKind,
    Taxon,
    UploadBatch,
)
from annotation.privacy import blurred_copy, people_in
from faune_platform.boxes import Box, Category, DetectorCategory
from inference.engine.exports.records import UNKNOWN, Classification, Event, Found, Frame, Site
from inference.models import BoxSource, Detection, ModelVersion, Prediction, SequencePrediction

CAMTRAPDP = (
    "camtrapdp"  # the key under which a Camtrap DP import keeps what the pool has no column for
)


# (import batch pk, image pk) -> the file's name in the import; looked up by a label's batch, which
# a label that came from no import lacks (None)
ItemNames = dict[tuple[int | None, int], str]


def wall_time(value: dt.datetime | None) -> dt.datetime | None:
    """The pool stores camera time as if it were UTC: back to the camera's naive wall-clock time."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value else None


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user else ""


def next_sequences(images: QuerySet[Image], *, cursor: int, limit: int) -> list[int]:
    """The next `limit` sequences after `cursor` that hold images in scope."""
    rows = (
        images.filter(sequence_id__gt=cursor)
        .order_by("sequence_id")
        .values_list("sequence_id", flat=True)
    )
    return list(rows.distinct()[:limit])


def site_ids(images: QuerySet[Image]) -> dict[str, str]:
    """{deployment pk (or "b" + batch pk for images without one): its id in the export}: the
    deployment's name, made unique with its organisation's name where two organisations use the
    same one."""
    rows = list(
        images.values_list(
            "deployment_id", "deployment__name", "deployment__organisation__name", "batch_id"
        ).distinct()
    )
    names = defaultdict(set)
    for deployment_id, name, _organisation, _batch in rows:
        if deployment_id:
            names[name].add(deployment_id)
    ids = {}
    for deployment_id, name, organisation, batch_id in rows:
        if deployment_id is None:
            ids[f"b{batch_id}"] = f"upload-{batch_id}"
        else:
            ids[str(deployment_id)] = name if len(names[name]) == 1 else f"{organisation}/{name}"
    return ids


def utc_offsets(organisation_ids: list[int]) -> dict[str, str]:
    """{deployment pk: UTC offset} for the deployments a Camtrap DP import brought with their
    time zone."""
    batches = UploadBatch.objects.filter(
        organisation_id__in=organisation_ids, params__has_key=CAMTRAPDP
    )
    wanted = {}
    for organisation_id, offsets in batches.values_list(
        "organisation_id", f"params__{CAMTRAPDP}__utc_offsets"
    ):
        for name, offset in (offsets or {}).items():
            wanted[(organisation_id, name)] = offset
    if not wanted:
        return {}
    deployments = Deployment.objects.filter(
        organisation_id__in=organisation_ids, name__in={name for _, name in wanted}
    )
    return {
        str(pk): wanted[(organisation_id, name)]
        for pk, organisation_id, name in deployments.values_list("pk", "organisation_id", "name")
        if (organisation_id, name) in wanted
    }


def site_record(
    deployment: Deployment | None, *, site_id: str, offset: str, organisation: str
) -> Site:
    if deployment is None:
        return Site(id=site_id, name=site_id, organisation=organisation)
    return Site(
        id=site_id,
        name=deployment.name,
        organisation=organisation,
        location_name=deployment.location_name,
        latitude=deployment.latitude,
        longitude=deployment.longitude,
        camera_id=deployment.camera_id,
        camera_make=deployment.camera_make,
        camera_model=deployment.camera_model,
        start=wall_time(deployment.start),
        end=wall_time(deployment.end),
        habitat=deployment.habitat,
        utc_offset=offset,
    )


@dataclass
class Context:
    """What every slice of one chunk needs, read once per chunk."""

    version: ModelVersion | None
    taxa: dict[int, Taxon]
    sites: dict[str, str]
    exclude_people: bool
    with_files: bool = (
        False  # the export copies media files (a video cannot be blurred: people's are left out)
    )
    provenance: dict[int, dict[str, list[dict[str, Any]]]] = field(
        default_factory=dict
    )  # import batch pk -> {item name: [entries]}

    def site_of(self, image: Image) -> str:
        key = str(image.deployment_id) if image.deployment_id else f"b{image.batch_id}"
        if key not in self.sites:  # a camera that appeared since the export started
            deployment = image.deployment  # None, without a query, when it has no deployment
            name = deployment.name if deployment is not None else f"upload-{image.batch_id}"
            taken = set(self.sites.values())
            self.sites[key] = name if name not in taken else f"{image.organisation.name}/{name}"
        return self.sites[key]


@dataclass
class Slice:
    events: list[Event]
    excluded_people: int = 0
    withheld_videos: int = 0
    blurred: int = 0
    files: dict[int, str] = field(
        default_factory=dict
    )  # image id -> the stored file to copy (people hidden)


def _taxon_said(taxon: Taxon | None, kind: str) -> dict[str, Any]:
    if taxon is None:
        return {"kind": kind}
    return {
        "kind": kind,
        "taxon_id": taxon.pk,
        "scientific_name": taxon.scientific_name,
        "name_en": taxon.name_en,
        "name_fr": taxon.name_fr,
    }


def _label(ctx: Context, label: Annotation, item_name: str) -> Classification:
    taxon = ctx.taxa[label.taxon_id]
    said = Classification(
        **_taxon_said(taxon, taxon.kind),
        count=label.count,
        box=label.box,
        method="human",
        by=_person(label.author),
        at=label.created_at,
        source=label.source,
    )
    if label.source == LabelSource.IMPORT and label.batch_id in ctx.provenance:
        return _with_provenance(said, taxon, ctx.provenance[label.batch_id].get(item_name, []))
    return said


def _with_provenance(
    said: Classification, taxon: Taxon, entries: list[dict[str, Any]]
) -> Classification:
    """An imported label as its source classified it (a person or a model, when, how sure)."""
    box = said.box.to_list(digits=5) if said.box else None  # as the import wrote it (_provenance)
    for entry in entries:
        if entry.get("taxon") == taxon.slug and entry.get("box") == box:
            at = dt.datetime.fromisoformat(entry["at"]) if entry.get("at") else None
            return replace(
                said,
                method=entry.get("method") or "human",
                by=entry.get("by", ""),
                at=at,
                probability=entry.get("probability"),
            )
    return said


def _machine(
    ctx: Context,
    taxon_id: int | None,
    category: str,
    score: float,
    top: list[list[Any]],
    threshold: float,
    at: dt.datetime,
    box: list[float] | None = None,
) -> Classification:
    taxon = ctx.taxa.get(taxon_id) if taxon_id else None
    undefined = category == Category.ANIMAL and score < threshold
    best = ctx.taxa.get(top[0][0]) if top else taxon
    version = ctx.version
    if version is None:  # read_slice reads predictions only when the export has a version
        raise ValueError("A model's prediction without the model version that made it.")
    return Classification(
        **_taxon_said(None if undefined else taxon, UNKNOWN if undefined else category),
        method="machine",
        by=f"{version.name} {version.version}",
        at=at,
        probability=round(score, 4),
        source="model",
        box=Box.from_list(box) if box else None,
        top_name_en=best.name_en if best else "",
        top_name_fr=best.name_fr if best else "",
    )


def _detections(image_ids: list[int]) -> dict[int, tuple[tuple[Found, ...], str]]:
    """Each image's boxes from one source: the newest that looked at it (an empty row means it
    saw nothing)."""
    rows = Detection.objects.filter(image_id__in=image_ids).order_by(
        "image_id", "-created_at", "-pk"
    )
    chosen: dict[int, tuple[str, list[Found], str]] = {}
    for d in rows:
        source, found, name = chosen.setdefault(d.image_id, (d.source, [], d.detector))
        if d.source == source and d.category != DetectorCategory.EMPTY:
            found.append(Found(DetectorCategory(d.category), d.confidence, d.box))
    return {pk: (tuple(found), name) for pk, (_source, found, name) in chosen.items()}


def _item_names(images: list[Image], batch_ids: set[int]) -> ItemNames:
    """(batch pk, image pk) -> the name the import reported the file under."""
    rows = BatchItem.objects.filter(batch_id__in=batch_ids, image__in=images).values_list(
        "batch_id", "image_id", "name"
    )
    return {(batch_id, image_id): name for batch_id, image_id, name in rows}


def _load_provenance(ctx: Context, batch_ids: set[int]) -> None:
    missing = batch_ids - ctx.provenance.keys()
    if not missing:
        return
    rows = UploadBatch.objects.filter(pk__in=missing, params__has_key=CAMTRAPDP).values_list(
        "pk", f"params__{CAMTRAPDP}__classifications"
    )
    found = dict(rows)
    for pk in missing:
        ctx.provenance[pk] = found.get(pk) or {}


def mediatype(image: Image) -> str:
    guessed = mimetypes.guess_type(image.file.name or image.original_name)[0]
    if guessed:
        return guessed
    return "video/mp4" if image.kind == MediaKind.VIDEO else "image/jpeg"


def read_slice(ctx: Context, *, images: QuerySet[Image], sequence_ids: list[int]) -> Slice:
    """The events of these sequences, with every frame in scope."""
    frames = list(
        images.filter(sequence_id__in=sequence_ids)
        .select_related("current_label__author", "deployment", "organisation")
        .order_by("sequence_id", "taken_at", "pk")
    )
    ids = [image.pk for image in frames]
    people = people_in(ids)
    found = _detections(ids)
    version = ctx.version
    predictions = (
        {p.image_id: p for p in Prediction.objects.filter(version=version, image_id__in=ids)}
        if version
        else {}
    )
    verdicts = (
        {
            v.sequence_id: v
            for v in SequencePrediction.objects.filter(
                version=version, sequence_id__in=sequence_ids
            )
        }
        if version
        else {}
    )
    imported = {
        image.current_label.batch_id
        for image in frames
        if image.current_label
        and image.current_label.source == LabelSource.IMPORT
        and image.current_label.batch_id is not None
    }
    _load_provenance(ctx, imported)
    names = _item_names(frames, {pk for pk in imported if ctx.provenance.get(pk)})
    result, grouped = Slice([]), defaultdict(list)
    for image in frames:
        if image.pk in people and (
            ctx.exclude_people or (ctx.with_files and image.kind == MediaKind.VIDEO)
        ):
            result.excluded_people += ctx.exclude_people
            result.withheld_videos += not ctx.exclude_people
            continue
        if ctx.with_files:
            result.files[image.pk] = _file_to_copy(image, people.get(image.pk))
            result.blurred += image.pk in people
        grouped[image.sequence_id].append(_frame(ctx, image, people, found, predictions, names))
    thresholds = {image.sequence_id: image.organisation.undefined_threshold for image in frames}
    for sequence_id, members in grouped.items():
        verdict, said = verdicts.get(sequence_id), None
        if verdict is not None:
            said = _machine(
                ctx,
                verdict.taxon_id,
                verdict.category,
                verdict.score,
                verdict.top,
                thresholds[sequence_id],
                verdict.updated_at,
            )
        result.events.append(Event(sequence_id, members[0].site_id, tuple(members), said))
    return result


def _file_to_copy(image: Image, boxes: tuple[Box, ...] | None) -> str:
    # "" for a missing name, as blurred_copy says it: the writer then counts the file missing
    return (image.file.name or "") if boxes is None else blurred_copy(image, "file", boxes)


def _frame(
    ctx: Context,
    image: Image,
    people: dict[int, tuple[Box, ...]],
    found: dict[int, tuple[tuple[Found, ...], str]],
    predictions: dict[int, Prediction],
    names: ItemNames,
) -> Frame:
    label = None
    current = image.current_label  # None, without a query, when it has no label
    if current is not None:
        label = _label(ctx, current, names.get((current.batch_id, image.pk), image.original_name))
    prediction = predictions.get(image.pk)
    said = None
    if prediction is not None:
        box = prediction.box if prediction.box_source != BoxSource.WHOLE_IMAGE else None
        said = _machine(
            ctx,
            prediction.taxon_id,
            prediction.category,
            prediction.score,
            prediction.top,
            image.organisation.undefined_threshold,
            prediction.created_at,
            box,
        )
    boxes, detector = found.get(image.pk, (None, ""))
    return Frame(
        id=image.pk,
        site_id=ctx.site_of(image),
        sequence_id=image.sequence_id,
        taken_at=wall_time(image.taken_at),
        name=image.original_name,
        kind=image.kind,
        mediatype=mediatype(image),
        width=image.width,
        height=image.height,
        people=image.pk in people,
        label=label,
        prediction=said,
        detections=boxes,
        detector=detector,
    )
