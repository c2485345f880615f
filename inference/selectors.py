"""Reads of predictions and similar images, always through what the asking user may see."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import BooleanField, F, OuterRef, QuerySet, Subquery, Value

from annotation.models import WAITING, Image, ReviewTask, Taxon, UploadBatch
from annotation.selectors import images_visible_to, taxa_held, visible_among
from faune_platform.boxes import NOT_ANIMAL, DetectorCategory
from faune_platform.db import chunked, in_chunks, unique_or_none
from faune_platform.jobs import ACTIVE, JobStatus
from inference.engine.rollup import NO_NODE, roll_up
from inference.engine.similarity import VectorIndex
from inference.engine.stored import from_f16_bytes
from inference.models import (
    Detection,
    Embedding,
    ModelVersion,
    NoveltyScan,
    Prediction,
    PrelabelRun,
    SelectionBatch,
    SequencePrediction,
    VersionStatus,
)
from inference.services.index import search_index


def production_version() -> ModelVersion | None:
    return unique_or_none(ModelVersion.objects.filter(status=VersionStatus.PRODUCTION))


def _prelabel_state(
    batch: UploadBatch, version: ModelVersion, images: int, predicted: int
) -> tuple[str, str]:
    """(state, error) of the pre-labelling of a batch by `version`: done once every image is
    predicted, or once a run ended after the newest image arrived (the rest could not be read);
    running while a run of the batch (or of the whole pool, after a promotion) is active; failed
    with the run's error; else waiting."""
    run = PrelabelRun.objects.filter(batch=batch, version=version).first()
    if images and predicted >= images:
        return "done", ""
    if run is not None and run.status == JobStatus.FAILED:
        return "failed", run.error
    newest = batch.images.order_by("-created_at").values_list("created_at", flat=True).first()
    if (
        run is not None
        and run.status == JobStatus.DONE
        and newest
        and run.finished_at
        and run.finished_at >= newest
    ):
        return "done", ""
    pool = PrelabelRun.objects.filter(batch=None, version=version, status__in=ACTIVE).exists()
    if (run is not None and run.status in ACTIVE) or pool:
        return "running", ""
    return "waiting", ""


def batch_prelabel_progress(batch: UploadBatch) -> dict[str, Any]:
    """The pre-labelling phase of an upload or import, as its pages follow it: the production
    version, how many of the batch's images it predicted, and a state (no_model, waiting, running,
    done, failed)."""
    version = production_version()
    images = batch.images.count()
    if version is None:
        return {
            "state": "no_model",
            "images": images,
            "predicted": 0,
            "error": "",
            "version": None,
            "zero_shot": False,
        }
    predicted = Prediction.objects.filter(image__batch=batch, version=version).count()
    state, error = _prelabel_state(batch, version, images, predicted)
    return {
        "state": state,
        "images": images,
        "predicted": predicted,
        "error": error,
        "version": str(version),
        "zero_shot": version.is_zero_shot,
    }


def detector_category_taxa() -> set[int]:
    """The taxa of what a detector says when it sees no animal (their slugs are the
    categories' words)."""
    slugs = [category.value for category in NOT_ANIMAL]
    return set(Taxon.objects.filter(slug__in=slugs).values_list("pk", flat=True))


def version_outputs(version: ModelVersion) -> set[int]:
    """The taxa a version can say: its classes, and the detector's categories when it has
    a detector."""
    classes = set(version.classes.values_list("taxon_id", flat=True))
    return classes | (detector_category_taxa() if version.detector.get("path") else set())


def classes_lost(
    *, production: ModelVersion | None, candidate_taxa: set[int]
) -> list[dict[str, Any]]:
    """Taxa that production can say and the pool holds labels of, but the candidate cannot say:
    promoting it would silence them (a head trained without empty frames calls blank frames
    "red deer")."""
    if production is None:
        return []
    wanted = version_outputs(production) - candidate_taxa
    held = taxa_held(wanted)
    names = dict(Taxon.objects.filter(pk__in=held).values_list("pk", "name_en"))
    return [
        {"taxon": taxon_id, "name": names[taxon_id], "labels": count}
        for taxon_id, count in sorted(held.items(), key=lambda row: -row[1])
    ]


def promotion_warnings(*, version: ModelVersion) -> list[dict[str, Any]]:
    """What promoting `version` would make the platform unable to say (see `classes_lost`)."""
    current = production_version()
    if current is None or current.pk == version.pk:
        return []
    return classes_lost(production=current, candidate_taxa=version_outputs(version))


def with_prediction(images: QuerySet[Image], version: ModelVersion | None) -> QuerySet[Image]:
    """Each image's prediction by `version` as columns (predicted_taxon_id, predicted_score,
    predicted_category); null where it has none, and everywhere when no version is given."""
    predicted = Prediction.objects.filter(
        image=OuterRef("pk"), version_id=version.pk if version else None
    )
    return images.annotate(
        predicted_taxon_id=Subquery(predicted.values("taxon_id")[:1]),
        predicted_score=Subquery(predicted.values("score")[:1]),
        predicted_category=Subquery(predicted.values("category")[:1]),
    )


def with_production_prediction(images: QuerySet[Image]) -> QuerySet[Image]:
    """The pre-label columns the labelled pool's image list reads (named in
    settings.FAUNE["PRELABEL_COLUMNS"]), and whether they come from a zero-shot version (pages say
    so wherever its labels show)."""
    version = production_version()
    zero_shot = Value(bool(version and version.is_zero_shot), output_field=BooleanField())
    return with_prediction(images, version).annotate(predicted_zero_shot=zero_shot)


def image_detections(image: Image, threshold: float) -> QuerySet[Detection]:
    """The boxes stored for an image (detector runs, imported MegaDetector files) that the pipeline
    would trust: at or above the detection threshold; the 'ran and saw nothing' rows are left
    out."""
    return Detection.objects.filter(image=image, confidence__gte=threshold).exclude(
        category=DetectorCategory.EMPTY
    )


def _taxon_names(taxon_ids: set[int]) -> dict[int | None, dict[str, Any]]:
    """Keyed by taxon id; looked up with nullable ids, which find nothing."""
    return {
        t.pk: {"id": t.pk, "slug": t.slug, "name_en": t.name_en, "name_fr": t.name_fr}
        for t in Taxon.objects.filter(pk__in=taxon_ids)
    }


@dataclass(frozen=True)
class TaxonTree:
    """Taxa as the roll-up engine takes them: the given classes first, in their order, then the
    higher taxa above them; `parents[i]` is the position of node i's parent (-1 at a root)."""

    nodes: list[int]  # taxon ids
    parents: list[int]


def taxon_tree(class_ids: list[int]) -> TaxonTree:
    parent_of = dict(Taxon.objects.values_list("pk", "parent_id"))
    nodes = list(class_ids)
    position = {taxon_id: index for index, taxon_id in enumerate(nodes)}
    parents = []
    for taxon_id in nodes:  # grows while it runs: each new ancestor is visited in turn
        parent = parent_of.get(taxon_id)
        if parent is not None and parent not in position:
            position[parent] = len(nodes)
            nodes.append(parent)
        parents.append(NO_NODE if parent is None else position[parent])
    return TaxonTree(nodes, parents)


SHOWN_TOP = 3  # best classes shown with a sequence's verdict; more are stored, for roll-up


def _sequence_rollup(sequence: SequencePrediction, threshold: float) -> tuple[int, float] | None:
    """(taxon id, summed probability) of the higher taxon an undefined verdict rolls up to under
    today's threshold and tree. Only the best classes are stored: their sum is a floor of the
    taxon's, so a roll-up is never claimed that the full distribution would refuse."""
    if not sequence.is_undefined(threshold) or not sequence.top:
        return None
    tree = taxon_tree([taxon_id for taxon_id, _ in sequence.top])
    found = roll_up(np.array([p for _, p in sequence.top]), np.array(tree.parents), threshold)
    node = int(found.node[0])
    return None if node == NO_NODE else (tree.nodes[node], float(found.probability[0]))


def prediction_summary(image: Image) -> dict[str, Any] | None:
    """The production version's pre-label of the image and its sequence's verdict, with taxon
    names, as pages and the API show them (None: no production version, or not pre-labelled yet).
    An undefined verdict carries its roll-up: the higher taxon that is sure enough, or null."""
    # the version with its prediction, in one query: the review desk asks for every frame
    production = Prediction.objects.filter(image=image, version__status=VersionStatus.PRODUCTION)
    prediction = unique_or_none(production.select_related("version"))
    if prediction is None:
        return None
    version = prediction.version
    threshold = image.organisation.undefined_threshold
    sequence = unique_or_none(
        SequencePrediction.objects.filter(sequence_id=image.sequence_id, version=version)
    )
    rollup = _sequence_rollup(sequence, threshold) if sequence else None
    wanted = {prediction.taxon_id, *(row[0] for row in prediction.top)}
    if sequence:
        wanted |= {sequence.taxon_id, *(row[0] for row in sequence.top[:SHOWN_TOP])}
    if rollup:
        wanted.add(rollup[0])
    names = _taxon_names({pk for pk in wanted if pk})

    def ranked(rows: list[list[Any]]) -> list[dict[str, Any]]:
        return [{"taxon": names.get(taxon_id), "probability": p} for taxon_id, p in rows]

    return {
        "version": {
            "id": version.pk,
            "name": version.name,
            "version": version.version,
            "zero_shot": version.is_zero_shot,
        },
        "image": {
            "category": prediction.category,
            "taxon": names.get(prediction.taxon_id),
            "score": prediction.score,
            "box": prediction.box,
            "box_source": prediction.box_source,
            "box_source_label": prediction.get_box_source_display(),
            "top": ranked(prediction.top),
        },
        "sequence": None
        if sequence is None
        else {
            "category": sequence.category,
            "taxon": names.get(sequence.taxon_id),
            "score": sequence.score,
            "undefined": sequence.is_undefined(threshold),
            "threshold": threshold,
            "rollup": None
            if rollup is None
            else {"taxon": names.get(rollup[0]), "probability": round(rollup[1], 5)},
            "top": ranked(sequence.top[:SHOWN_TOP]),
        },
    }


def _production_query(image: Image) -> tuple[VectorIndex, np.ndarray] | None:
    """The production backbone's index and the image's embedding by it (a one-row query); None when
    there is no production version, no such embedding or no index."""
    version = production_version()
    if version is None:
        return None
    embedding = unique_or_none(image.embeddings.filter(backbone_key=version.backbone_key))
    if embedding is None:
        return None
    index = search_index(version.backbone_key)
    if index is None:
        return None
    return index, from_f16_bytes(embedding.vector)[None, :]


def similar_images(
    user: User | AnonymousUser, image: Image, k: int = 12, *, oversample: int = 8
) -> list[dict[str, Any]]:
    """The k most similar images the user may see, by cosine similarity of the production backbone's
    embeddings. Searches k x oversample neighbours, then keeps the visible ones."""
    searched = _production_query(image)
    if searched is None:
        return []
    index, query = searched
    found = index.search(query, min(index.size, k * oversample + 1))
    ranked = [
        (int(i), float(s))
        for i, s in zip(found.ids[0], found.scores[0], strict=True)
        if i >= 0 and i != image.pk
    ]
    visible = visible_among(user, [i for i, _ in ranked])
    return [{"image": i, "similarity": round(s, 4)} for i, s in ranked if i in visible][:k]


def similar_labelled(
    user: User | AnonymousUser,
    image: Image,
    taxon_ids: list[int],
    *,
    per_taxon: int = 4,
    search: int = 500,
) -> dict[int, list[dict[str, Any]]]:
    """For each candidate taxon, the nearest images the user may see whose current label is that
    taxon: what an expert compares a doubtful frame with. Searches the `search` nearest
    neighbours, so a taxon with no labelled image nearby comes back empty rather than with
    far-fetched examples."""
    searched = _production_query(image)
    found: dict[int, list[dict[str, Any]]] = {taxon_id: [] for taxon_id in taxon_ids}
    if searched is None or not taxon_ids:
        return found
    index, query = searched
    neighbours = index.search(query, min(index.size, search))
    ranked = [
        (int(i), float(s))
        for i, s in zip(neighbours.ids[0], neighbours.scores[0], strict=True)
        if i >= 0 and i != image.pk
    ]
    labels = dict(
        images_visible_to(user)
        .filter(pk__in=[i for i, _ in ranked], current_taxon_id__in=taxon_ids)
        .exclude(sequence_id=image.sequence_id)
        .values_list("pk", "current_taxon_id")
    )
    for image_id, similarity in ranked:
        taxon_id = labels.get(image_id)
        if taxon_id is not None and len(found[taxon_id]) < per_taxon:
            found[taxon_id].append({"image": image_id, "similarity": round(similarity, 4)})
    return found


def stored_embeddings(backbone_key: str, image_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(found, vectors): which of these images have an embedding of the backbone, and one float32
    matrix whose row i is image_ids[i]'s (zeros where none is stored). Filled row by row as the
    database answers, so a pool's vectors exist once in memory, never as a dict of arrays and then a
    stacked copy."""
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    found = np.zeros(len(image_ids), dtype=bool)
    vectors: np.ndarray | None = None
    stored = Embedding.objects.filter(backbone_key=backbone_key)
    for part in chunked(image_ids):  # one chunk's bytes at a time
        rows = list(stored.filter(image_id__in=part).values_list("image_id", "vector"))
        if not rows:
            continue
        if vectors is None:  # float16 bytes: two a number
            vectors = np.zeros((len(image_ids), len(rows[0][1]) // 2), dtype=np.float32)
        for image_id, raw in rows:
            vectors[position[image_id]] = from_f16_bytes(raw)
            found[position[image_id]] = True
    return found, vectors if vectors is not None else np.zeros(
        (len(image_ids), 0), dtype=np.float32
    )


def reorder_logits(values: np.ndarray, order: list[int], taxa: list[int]) -> np.ndarray:
    """Logits in a version's class `order`, rearranged into the order of `taxa`; a taxon the version
    does not know gets a very low logit."""
    position = {taxon: i for i, taxon in enumerate(order)}
    return np.array(
        [values[position[t]] if t in position else -1e4 for t in taxa], dtype=np.float32
    )


def stored_logits(
    version: ModelVersion, image_ids: list[int], taxa: list[int]
) -> dict[int, np.ndarray]:
    """The logits a version stored for these images, in the order of `taxa`, for comparing versions
    without running them again."""
    order = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
    found = {}
    for image_id, raw in in_chunks(
        Prediction.objects.filter(version=version), "image_id", image_ids, ("image_id", "logits")
    ):
        values = from_f16_bytes(raw) if raw else None
        if values is not None and len(values) == len(order):
            found[image_id] = reorder_logits(values, order, taxa)
    return found


def selection_outcomes(batches: list[SelectionBatch]) -> dict[int, dict[str, int]]:
    """Per batch: picks reviewed so far, still waiting, and how often the expert's label differed
    from the model's prediction at pick time. A strategy whose picks the model already got right
    taught it little: this is the figure that says which strategy paid off."""
    origins = {f"selection:{batch.pk}": batch for batch in batches}
    tasks = list(
        ReviewTask.objects.filter(origin__in=origins).values_list("origin", "state", "image_id")
    )
    done = [(origin, image_id) for origin, state, image_id in tasks if state == "done"]
    done_ids = [image_id for _, image_id in done]
    labels = dict(in_chunks(Image.objects.all(), "pk", done_ids, ("pk", "current_taxon_id")))
    predicted = {
        (version_id, image_id): taxon_id
        for version_id, image_id, taxon_id in in_chunks(
            Prediction.objects.all(), "image_id", done_ids, ("version_id", "image_id", "taxon_id")
        )
    }
    outcomes = {
        batch.pk: {"tasks": 0, "reviewed": 0, "waiting": 0, "model_wrong": 0} for batch in batches
    }
    for origin, state, image_id in tasks:
        row = outcomes[origins[origin].pk]
        row["tasks"] += 1
        row["waiting"] += state in WAITING
        if state == "done":
            row["reviewed"] += 1
            row["model_wrong"] += labels.get(image_id) != predicted.get(
                (origins[origin].version_id, image_id)
            )
    return outcomes


def novelty_scan_latest() -> NoveltyScan | None:
    """The newest scan in whatever state: the one the page follows."""
    return NoveltyScan.objects.select_related("version", "created_by").first()


def novelty_scan_shown() -> NoveltyScan | None:
    """The newest finished scan: the one whose clusters are listed."""
    return NoveltyScan.objects.filter(status="done").select_related("version", "created_by").first()


def _labelled_now(image_ids: list[int]) -> set[int]:
    rows = in_chunks(Image.objects.filter(current_label__isnull=False), "pk", image_ids, ("pk",))
    return {pk for (pk,) in rows}


def novelty_cluster_rows(scan: NoveltyScan, *, strip: int = 8) -> list[dict[str, Any]]:
    """Each cluster of a scan, largest first (number 1): its size, its outliers, its `strip` most
    typical members that are not outliers, how many of its members carry a label now, and what
    labelling it did."""
    labelled = _labelled_now([pk for cluster in scan.clusters for pk in cluster["members"]])
    rows = []
    for number, cluster in enumerate(scan.clusters, start=1):
        outliers = set(cluster["outliers"])
        rows.append(
            {
                "number": number,
                "size": len(cluster["members"]),
                "outliers": len(outliers),
                "typical": [pk for pk in cluster["members"] if pk not in outliers][:strip],
                "labelled_now": len(labelled.intersection(cluster["members"])),
                "outcome": cluster["outcome"],
            }
        )
    return rows


def novelty_cluster_members(scan: NoveltyScan, number: int) -> list[dict[str, Any]] | None:
    """Every member of cluster `number`, most typical first: its similarity to the cluster's
    centre, whether it is an outlier, its label now and what the scan's version predicted. None: no
    such cluster."""
    if not 1 <= number <= len(scan.clusters):
        return None
    cluster = scan.clusters[number - 1]
    ids, outliers = cluster["members"], set(cluster["outliers"])
    labels = dict(in_chunks(Image.objects.all(), "pk", ids, ("pk", "current_taxon_id")))
    predictions = Prediction.objects.filter(version_id=scan.version_id)
    columns = ("image_id", "taxon_id", "score")
    predicted = {row[0]: row[1:] for row in in_chunks(predictions, "image_id", ids, columns)}
    # Looked up with nullable ids (no label, no prediction), which find nothing.
    names: dict[int | None, str] = dict(
        Taxon.objects.filter(
            pk__in={*labels.values(), *(row[0] for row in predicted.values())}
        ).values_list("pk", "name_en")
    )
    rows = []
    for pk, typicality in zip(ids, cluster["typicality"], strict=True):
        taxon_id, score = predicted.get(pk, (None, None))
        rows.append(
            {
                "image": pk,
                "typicality": typicality,
                "outlier": pk in outliers,
                "exists": pk in labels,
                "label": names.get(labels.get(pk)),
                "predicted": names.get(taxon_id),
                "score": score,
            }
        )
    return rows


class TrainedVersion(TypedDict):
    """A point of the learning curve: the labels a version was trained on, its test macro-F1 and
    the round that made it, read from its lineage."""

    pk: int
    name: str
    version: str
    status: str
    created_at: datetime
    labels: Any
    macro_f1: Any
    round: Any


def versions_trained() -> list[TrainedVersion]:
    """Versions whose lineage records the labels they were trained on and their test macro-F1 (every
    version a round registered; not zero-shot or imported ones), oldest first: the points of a
    learning curve."""
    versions = ModelVersion.objects.filter(lineage__has_key="labels").filter(
        lineage__has_key="test_macro_f1"
    )
    return list(
        versions.order_by("created_at", "pk").values(
            "pk",
            "name",
            "version",
            "status",
            "created_at",
            labels=F("lineage__labels"),
            macro_f1=F("lineage__test_macro_f1"),
            round=F("lineage__round"),
        )
    )
