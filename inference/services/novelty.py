"""Possibly new taxa. A scan (a job) reads the production version's stored embeddings and
predictions, finds the unlabelled images far from every labelled image that the model is unsure of,
and stores their clusters (the rule is in inference/engine/novelty.py). A coordinator then names a
cluster's taxon, new or existing, and labels the cluster at once: every member but the outliers gets
the label, the outliers go to review (in that taxon's queue when an expert reviews it, else to
triage)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Mod
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.models import Image, Taxon, TaxonKind
from annotation.permissions import require_coordinator
from annotation.selectors import taxa_with_experts
from annotation.services.annotations import LabelConflict, annotation_add
from annotation.services.reasons import taxon_named
from annotation.services.review import ReviewItem, review_queue_route, review_tasks_create
from annotation.services.taxa import taxon_create
from faune_platform.boxes import Category
from faune_platform.db import chunked, in_chunks
from faune_platform.errors import InputRefused, StateConflict, Worded, gettext_noop
from faune_platform.jobs import ACTIVE, job_claim, job_enqueue, job_fail, job_finish, job_heartbeat
from inference.engine import novelty as engine
from inference.job_words import job_status_word
from inference.models import ModelVersion, NoveltyScan, Prediction
from inference.selectors import production_version, stored_embeddings

SCAN_TASK = "inference.tasks.novelty_scan_run"


class NoveltyScanError(InputRefused):
    pass


class NoveltyScanBusy(StateConflict, NoveltyScanError):
    pass


@dataclass(frozen=True)
class NewTaxon:
    name_en: str
    name_fr: str = ""
    scientific_name: str = ""
    parent: Taxon | None = None


@dataclass
class ClusterLabelled:
    taxon: Taxon
    labelled: list[int] = field(default_factory=list)
    conflicts: dict[int, str] = field(
        default_factory=dict
    )  # {image id: who labelled it since the scan}
    review: list[int] = field(
        default_factory=list
    )  # outliers now waiting in the taxon's review queue
    skipped: list[int] = field(
        default_factory=list
    )  # gone since; outliers labelled or queued already


def _production() -> ModelVersion:
    version = production_version()
    if version is None:
        raise NoveltyScanError(
            _("No production model: the scan works on its embeddings and predictions.")
        )
    return version


def _stale(scan: NoveltyScan) -> bool:
    """An active scan whose worker has shown no sign of life for JOB_STALE_S (killed, or
    never started)."""
    last = scan.heartbeat_at or scan.created_at
    return (timezone.now() - last).total_seconds() > settings.FAUNE["JOB_STALE_S"]


def novelty_scan_request(*, user: User | None, seed: int = 0) -> NoveltyScan:
    """Queue a scan of the production version's pool. One at a time: a scan still alive refuses
    a second one; a stale one is failed first (its worker stopped), so the page never waits on
    it forever."""
    version = _production()
    with transaction.atomic():
        for scan in NoveltyScan.objects.select_for_update().filter(status__in=ACTIVE):
            if not _stale(scan):
                raise NoveltyScanBusy(
                    f"Scan {scan.pk} is still {scan.status}; wait for it to finish."
                )
            job_fail(scan, "its worker stopped before the scan finished; a new scan replaced it")
        scan = NoveltyScan.objects.create(created_by=user, version=version, seed=seed)
        job_enqueue(scan, SCAN_TASK)
    return scan


def novelty_scan_run(scan_id: int, *, token: str) -> None:
    """The job: claim the scan, read, find, store. A scan run again after a killed worker starts
    over (it writes nothing until the end, in one UPDATE)."""
    scan = job_claim(NoveltyScan, scan_id, token)
    if scan is None:
        return
    try:
        _scan(scan)
    except (engine.NoveltyError, NoveltyScanError) as error:
        job_fail(scan, str(error))
    except Exception as error:
        job_fail(scan, error)
        raise


def _scan(scan: NoveltyScan) -> None:
    version = scan.version
    if version is None:
        raise NoveltyScanError(_("Its model version was deleted."))
    if not job_heartbeat(scan, stage="reading labelled images"):
        return
    labelled = _labelled(version, scan.seed)
    if not job_heartbeat(scan, stage="reading unsure unlabelled images"):
        return
    candidates, sampled = _candidates(
        version, engine.confidence_threshold(labelled, None), scan.seed
    )
    if not job_heartbeat(scan, stage=f"clustering {len(candidates)} images"):
        return
    found = engine.novelty_scan(candidates, labelled, seed=scan.seed)
    job_finish(
        scan,
        stage="",
        scanned=found.scanned,
        sampled=sampled,
        labelled=found.labelled,
        possibly_new=found.possibly_new,
        joined=found.joined,
        scattered=found.scattered,
        thresholds=_thresholds_row(found.thresholds),
        clusters=[_cluster_row(cluster) for cluster in found.clusters],
    )


def _labelled(version: ModelVersion, seed: int) -> engine.Images:
    """(A random sample of) the images labelled with an animal taxon, embedded by the version's
    backbone, with the version's top probability on each (NaN where it has none). Animals only:
    blank frames and people say nothing about how far apart the images of one taxon are."""
    rows = list(
        Image.objects.filter(
            current_taxon__kind=TaxonKind.ANIMAL, embeddings__backbone_key=version.backbone_key
        ).values_list("pk", "sequence_id", "current_taxon_id")
    )
    if len(rows) > engine.LABELLED_CAP:
        keep = np.random.default_rng(seed).choice(len(rows), engine.LABELLED_CAP, replace=False)
        rows = [rows[i] for i in np.sort(keep)]
    found, vectors = stored_embeddings(version.backbone_key, [row[0] for row in rows])
    rows = [row for row, kept in zip(rows, found, strict=True) if kept]
    vectors = vectors[found]
    predictions = Prediction.objects.filter(version=version)
    scores = dict(
        in_chunks(predictions, "image_id", [row[0] for row in rows], ("image_id", "score"))
    )
    return _images(rows, vectors, scores, labels=True)


def _images(
    rows: Sequence[tuple[int, int, Any]],
    vectors: np.ndarray,
    scores: dict[int, float],
    *,
    labels: bool,
) -> engine.Images:
    """Rows of (image id, sequence id, then the taxon id when `labels`, else the score) and their
    vectors (row for row) as the engine's arrays."""
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    embeddings = vectors if rows else np.zeros((0, 1), dtype=np.float32)
    return engine.Images(
        ids=ids,
        embeddings=embeddings,
        confidence=np.array([scores.get(i, np.nan) for i in ids.tolist()], dtype=np.float64),
        sequences=np.array([row[1] for row in rows], dtype=np.int64),
        labels=np.array([row[2] for row in rows], dtype=np.int64) if labels else None,
    )


def _candidates(version: ModelVersion, confidence: float, seed: int) -> tuple[engine.Images, bool]:
    """Unlabelled images the version called an animal with a top probability under `confidence` (the
    only ones the engine can use), and whether they were sampled: past CANDIDATE_CAP, every k-th
    image id (offset by the seed), so the database never returns the whole pool."""
    predictions = Prediction.objects.filter(
        version=version, category=Category.ANIMAL, image__current_label__isnull=True
    )
    if math.isfinite(confidence):
        predictions = predictions.filter(score__lt=confidence)
    count, cap = predictions.count(), engine.CANDIDATE_CAP
    if count > cap:
        step = math.ceil(count / cap)
        predictions = predictions.annotate(bucket=Mod(F("image_id"), step)).filter(
            bucket=seed % step
        )
    rows = list(predictions.values_list("image_id", "image__sequence_id", "score")[:cap])
    found, vectors = stored_embeddings(version.backbone_key, [row[0] for row in rows])
    rows = [row for row, kept in zip(rows, found, strict=True) if kept]
    vectors = vectors[found]
    scores = {row[0]: row[2] for row in rows}
    return _images(rows, vectors, scores, labels=False), count > cap


def _thresholds_row(thresholds: engine.Thresholds) -> dict[str, Any]:
    own = {str(taxon): round(value, 4) for taxon, value in thresholds.far_by_taxon.items()}
    # No probabilities at all make the confidence threshold infinite, which JSON cannot hold.
    confidence = round(thresholds.confidence, 4) if math.isfinite(thresholds.confidence) else None
    return {
        "far_similarity": round(thresholds.far_similarity, 4),
        "far_by_taxon": own,
        "taxa_with_own_yardstick": len(own),
        "confidence": confidence,
        "linkage": round(thresholds.linkage, 4),
    }


def _cluster_row(cluster: engine.Cluster) -> dict[str, Any]:
    return {
        "members": cluster.ids.tolist(),
        "typicality": [round(float(t), 4) for t in cluster.typicality],
        "outliers": cluster.ids[cluster.outliers].tolist(),
        "outcome": None,
    }


def _cluster_entry(scan: NoveltyScan, number: int) -> dict[str, Any]:
    if not 1 <= number <= len(scan.clusters):
        raise NoveltyScanError(
            _("Scan %(id)s has no cluster %(number)s: it found %(found)s.")
            % {"id": scan.pk, "number": number, "found": len(scan.clusters)}
        )
    entry: dict[str, Any] = scan.clusters[number - 1]  # a JSON column: the stubs say Any
    return entry


def novelty_cluster_label(
    *,
    user: User,
    scan: NoveltyScan,
    number: int,
    taxon: Taxon | None = None,
    new_taxon: NewTaxon | None = None,
) -> ClusterLabelled:
    """Label cluster `number` (1 = the largest) of a finished scan with `taxon`, or with a taxon
    created here from `new_taxon`: one label event per member through `annotation_add` (an image
    someone labelled since the scan is left alone and reported), the outliers sent to review in that
    taxon's queue. All in one transaction, the scan row locked: a cluster is labelled once, and a
    refused one leaves no new taxon."""
    require_coordinator(user, _("label possibly-new clusters"))
    if (taxon is None) == (new_taxon is None):
        raise NoveltyScanError(_("Name a new taxon or choose an existing one (not both)."))
    with transaction.atomic():
        locked = NoveltyScan.objects.select_for_update().get(pk=scan.pk)
        if locked.status != "done":
            raise NoveltyScanError(
                _("Scan %(id)s is %(status)s: only a finished scan's clusters can be labelled.")
                % {"id": locked.pk, "status": job_status_word(locked.status)}
            )
        entry = _cluster_entry(locked, number)
        if entry.get("outcome"):
            done = entry["outcome"]
            raise NoveltyScanBusy(
                f"Cluster {number} was already labelled {done['taxon_name']} by {done['by']}."
            )
        chosen = taxon or taxon_create(**vars(new_taxon), created_by=user)
        result = _label_members(user, chosen, entry, origin=f"novelty:{locked.pk}:{number}")
        entry["outcome"] = _outcome(user, chosen, result, new=taxon is None)
        NoveltyScan.objects.filter(pk=locked.pk).update(clusters=locked.clusters)
    return result


def _members(image_ids: list[int]) -> dict[int, Image]:
    found: dict[int, Image] = {}
    for part in chunked(image_ids):
        found.update(Image.objects.in_bulk(part))
    return found


def _label_members(
    user: User, taxon: Taxon, entry: dict[str, Any], *, origin: str
) -> ClusterLabelled:
    outliers = set(entry["outliers"])
    images = _members(entry["members"])
    result = ClusterLabelled(taxon=taxon)
    for pk in entry["members"]:
        if pk in images and pk not in outliers:
            _label_one(user, taxon, images[pk], result)
    typicality = dict(zip(entry["members"], entry["typicality"], strict=True))
    unlabelled = [
        images[pk] for pk in entry["outliers"] if pk in images and not images[pk].current_label_id
    ]
    result.review = _send_to_review(unlabelled, taxon, typicality, origin)
    result.skipped = [
        pk
        for pk in entry["members"]
        if pk not in images or (pk in outliers and pk not in result.review)
    ]
    return result


def _send_to_review(
    outliers: list[Image], taxon: Taxon, typicality: dict[int, float], origin: str
) -> list[int]:
    """Review tasks for the outliers (one per sequence; the farthest from the centre come first),
    in the taxon's queue when an expert reviews it, else in triage saying so (a new taxon has no
    expert yet, and a queue nobody works would keep them waiting); returns the outliers a new task
    covers. A sequence already waiting in review keeps its task."""
    route = review_queue_route(taxa=[taxon], expert_taxa=taxa_with_experts())
    triaged = route.queue_taxon_id is None
    reason = [
        Worded(
            gettext_noop("outlier of a possibly-new cluster labelled %(taxon)s"),
            {"taxon": taxon_named(taxon)},
        ),
        *([route.why] if triaged else []),
    ]
    items = [
        ReviewItem(
            image=image,
            queue_taxon=None if triaged else taxon,
            reason=reason,
            score=round(1 - typicality[image.pk], 4),
        )
        for image in outliers
    ]
    covered = {task.sequence_id for task in review_tasks_create(items=items, origin=origin)}
    return [image.pk for image in outliers if image.sequence_id in covered]


def _label_one(user: User, taxon: Taxon, image: Image, result: ClusterLabelled) -> None:
    try:
        with transaction.atomic():  # a refused image rolls back alone
            annotation_add(image=image, taxon=taxon, author=user, expected_current_id=0)
    except LabelConflict as conflict:
        result.conflicts[image.pk] = str(conflict)
    else:
        result.labelled.append(image.pk)


def _outcome(user: User, taxon: Taxon, result: ClusterLabelled, *, new: bool) -> dict[str, Any]:
    return {
        "taxon": taxon.pk,
        "taxon_name": taxon.name_en,
        "new_taxon": new,
        "by": user.username,
        "at": timezone.now().isoformat(timespec="seconds"),
        "labelled": len(result.labelled),
        "conflicts": sorted(result.conflicts),
        "review": result.review,
        "skipped": result.skipped,
    }
