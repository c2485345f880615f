"""Importing folders partners already organised (plain, a folder per class, COCO Camera Traps).

An import is planned first (layout read, class names matched to taxa) so that unknown classes stop it before a
single file is stored; then each file is ingested on its own, so one bad file never sinks the rest. Re-running an
import over the same batch skips the files it already reported, so a crashed job resumes where it stopped.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User

from annotation.ingest.layouts import ImportPlan, PlannedFile, plan_import
from annotation.models import BatchItem, BatchOutcome, Deployment, Role, Taxon, UploadBatch
from annotation.services.batches import batch_counts
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from annotation.services.organisations import deployment_ensure
from annotation.services.taxa import normalise_name, taxa_by_name, taxa_create_missing, taxa_match


class UnknownClasses(Exception):
    http_status = 400

    def __init__(self, names: list[str]) -> None:
        self.names = names
        shown = ", ".join(repr(name) for name in names[:50]) + (" ..." if len(names) > 50 else "")
        super().__init__(
            f"{len(names)} class name(s) match no taxon: {shown}. Rename the folders or categories to a taxon's "
            "French or English name, or allow creating taxa (--create-taxa)."
        )


@dataclass(frozen=True)
class PreparedImport:
    plan: ImportPlan
    taxa: dict[str, Taxon]
    created_taxa: list[Taxon]


def import_prepare(
    *, root: Path, fmt: str, deployment_name: str | None, create_taxa: bool, user: User | None = None
) -> PreparedImport:
    """Read the layout and resolve every class name; raise LayoutError or UnknownClasses before any write."""
    known = set(taxa_by_name())
    plan = plan_import(root, fmt, deployment=deployment_name, known_names=known, normalise=normalise_name)
    taxa, unknown = taxa_match(plan.class_names)
    created: list[Taxon] = []
    if unknown and not create_taxa:
        raise UnknownClasses(unknown)
    if unknown:
        created = taxa_create_missing(names=unknown, created_by=user)
        taxa.update(zip(unknown, created, strict=True))
    return PreparedImport(plan, taxa, created)


def _hints(item: PlannedFile, taxa: dict[str, Taxon], role: str) -> IngestHints:
    labels = tuple(IngestLabel(taxa[label.class_name], label.box) for label in item.labels)
    return IngestHints(labels=labels, taken_at=item.taken_at, sequence_id=item.sequence_id, label_role=role)


def import_run(
    *,
    batch: UploadBatch,
    prepared: PreparedImport,
    maxlag_s: float | None = None,
    role: str = Role.PARTNER,
    on_progress: Callable[[int, int], None] | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Ingest every planned file into `batch` (or until `keep_going()` says stop, asked before each file not
    reported yet); return the counts the command and pages report."""
    files = prepared.plan.files
    done = set(batch.items.values_list("name", flat=True))
    deployments: dict[str, Deployment] = {}
    for position, item in enumerate(files, start=1):
        if item.name not in done:
            if keep_going and not keep_going():
                break
            _import_one(batch, item, prepared.taxa, deployments, maxlag_s, role)
        if on_progress and (position % 25 == 0 or position == len(files)):
            on_progress(position, len(files))
    return batch_counts(batch)


def _deployment(batch: UploadBatch, name: str) -> Deployment:
    """The camera an imported file names; one the import creates is noted on the batch, so that a failed import
    can remove the cameras it left empty."""
    deployment, created = deployment_ensure(organisation=batch.organisation, name=name)
    if created:
        batch.params = {**batch.params, "created_deployments": [*batch.params.get("created_deployments", []),
                                                                deployment.pk]}
        UploadBatch.objects.filter(pk=batch.pk).update(params=batch.params)
    return deployment


def _import_one(batch, item: PlannedFile, taxa, deployments: dict[str, Deployment], maxlag_s, role) -> BatchItem:
    if item.rejection or item.path is None:
        return BatchItem.objects.create(batch=batch, name=item.name[:500], outcome=BatchOutcome.REJECTED,
                                        reason=item.rejection[:500])
    if item.deployment not in deployments:
        deployments[item.deployment] = _deployment(batch, item.deployment)
    return image_ingest(path=item.path, name=item.name, batch=batch, deployment=deployments[item.deployment],
                        maxlag_s=maxlag_s, hints=_hints(item, taxa, role))
