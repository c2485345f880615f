"""Importing folders partners already organised (plain, a folder per class, COCO Camera Traps).

An import is planned first (layout read, each class name mapped to a taxon: see class_mapping.py) so
that a class without a taxon stops it before a single file is stored; then each file is ingested on
its own, so one bad file never sinks the rest. Re-running an import over the same batch skips the
files it already reported, so a crashed job resumes where it stopped.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from annotation.ingest.layouts import plan_import
from annotation.ingest.plans import ImportPlan, PlannedFile
from annotation.models import BatchItem, BatchOutcome, Deployment, Role, Taxon, UploadBatch
from annotation.selectors import batch_counts
from annotation.services.class_mapping import (
    Choice,
    NameIndex,
    class_mapping_apply,
    class_mapping_decide,
    class_mapping_propose,
    class_mapping_taxa,
    class_suggest,
)
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest_reported
from annotation.services.organisations import deployment_ensure
from annotation.services.taxa import normalise_name, taxa_by_name
from faune_platform.responses import translated


@dataclass(frozen=True)
class PreparedImport:
    plan: ImportPlan
    taxa: dict[
        str, Taxon | None
    ]  # source class -> taxon; None: its files are imported without that label
    created_taxa: list[Taxon] = field(default_factory=list)

    @property
    def class_mapping(self) -> dict[str, str | None]:
        """As kept on the batch: source class -> taxon slug (None: not labelled)."""
        return {name: taxon.slug if taxon else None for name, taxon in self.taxa.items()}


def import_plan(
    *, root: Path, fmt: str, deployment_name: str | None, fallback: str | None = None
) -> ImportPlan:
    """Read the layout (LayoutError when it cannot be read); nothing is written. `auto` takes
    folders named like taxa (the mapping step's suggestions) for class folders."""
    index = NameIndex()
    return plan_import(
        root,
        fmt,
        deployment=deployment_name,
        known_names=set(taxa_by_name()),
        normalise=normalise_name,
        fallback=fallback,
        resembles=lambda name: class_suggest(name, index=index) is not None,
    )


def import_prepare(
    *,
    root: Path,
    fmt: str,
    deployment_name: str | None,
    create_taxa: bool = False,
    choices: Mapping[str, Choice] | None = None,
    user: User | None = None,
    fallback: str | None = None,
) -> PreparedImport:
    """Read the layout and decide every class's taxon (the `choices` given, else exact names, else
    new taxa when `create_taxa`); raise LayoutError or UnmappedClasses before any write, then create
    the new taxa."""
    plan = import_plan(root=root, fmt=fmt, deployment_name=deployment_name, fallback=fallback)
    decided = class_mapping_decide(
        rows=class_mapping_propose(plan.class_counts),
        choices=choices or {},
        create_missing=create_taxa,
        details=plan.class_details,
    )
    mapping, created = class_mapping_apply(decided=decided, user=user)
    return PreparedImport(plan, class_mapping_taxa(mapping, needed=set(mapping)), created)


def import_prepare_mapped(*, batch: UploadBatch, root: Path) -> PreparedImport:
    """The plan of a recorded import with the taxa of the mapping kept on its batch (ValidationError
    when the mapping no longer covers its classes)."""
    params = batch.params
    plan = import_plan(
        root=root,
        fmt=params.get("format", "auto"),
        deployment_name=params.get("deployment") or None,
        fallback=params.get("fallback") or None,
    )
    return PreparedImport(
        plan, class_mapping_taxa(batch.class_mapping, needed=set(plan.class_counts))
    )


def _hints(item: PlannedFile, taxa: Mapping[str, Taxon | None], role: str) -> IngestHints:
    labels = tuple(
        IngestLabel(taxon, label.box, label.count)
        for label in item.labels
        if (taxon := taxa[label.class_name]) is not None
    )
    return IngestHints(
        labels=labels, taken_at=item.taken_at, sequence_id=item.sequence_id, label_role=role
    )


def import_run(
    *,
    batch: UploadBatch,
    prepared: PreparedImport,
    maxlag_s: float | None = None,
    role: str = Role.PARTNER,
    on_progress: Callable[[int, int], None] | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Ingest every planned file into `batch` (or until `keep_going()` says stop, asked before each
    file not reported yet); return the counts the command and pages report."""
    files = prepared.plan.files
    done = set(batch.items.values_list("name", flat=True))
    deployments: dict[str, Deployment] = {}
    _provenance_keep(batch, prepared)
    for position, item in enumerate(files, start=1):
        if item.name not in done:
            if keep_going and not keep_going():
                break
            _import_one(batch, item, prepared, deployments, maxlag_s, role)
        if on_progress and (position % 25 == 0 or position == len(files)):
            on_progress(position, len(files))
    return batch_counts(batch)


def _provenance_keep(batch: UploadBatch, prepared: PreparedImport) -> None:
    """What the source says that the pool has no column for (a Camtrap DP package: who or which
    model classified each observation, how sure, each camera's time zone), kept on the batch once,
    under the format's name, with each class named by the taxon it became: exports give it back."""
    provenance = prepared.plan.provenance
    if not provenance or prepared.plan.format in batch.params:
        return
    for entries in provenance.get("classifications", {}).values():
        for entry in (
            entries
        ):  # a class no imported file carries (hosted media, say) has no taxon: keep its name
            taxon = prepared.taxa.get(entry["class"])
            if taxon is not None:
                entry["taxon"] = taxon.slug
                del entry["class"]
    batch.params = {**batch.params, prepared.plan.format: provenance}
    UploadBatch.objects.filter(pk=batch.pk).update(params=batch.params)


def _details(metadata: dict[str, Any]) -> dict[str, Any]:
    """A camera's metadata as the model holds it: times are camera time, kept as if UTC (as image
    times are)."""
    return {
        key: timezone.make_aware(value, dt.UTC) if isinstance(value, dt.datetime) else value
        for key, value in metadata.items()
    }


def _deployment(
    batch: UploadBatch, name: str, metadata: dict[str, Any] | None = None
) -> Deployment:
    """The camera an imported file names; one the import creates is noted on the batch, so that a
    failed import can remove the cameras it left empty."""
    deployment, created = deployment_ensure(
        organisation=batch.organisation, name=name, **_details(metadata or {})
    )
    if batch.deployment_id is None and name == batch.params.get("deployment"):
        # the new deployment the user typed exists now: the batch lists show it
        batch.deployment = deployment
        UploadBatch.objects.filter(pk=batch.pk).update(deployment=deployment)
    if created:
        batch.params = {
            **batch.params,
            "created_deployments": [*batch.params.get("created_deployments", []), deployment.pk],
        }
        UploadBatch.objects.filter(pk=batch.pk).update(params=batch.params)
    return deployment


def _import_one(
    batch: UploadBatch,
    item: PlannedFile,
    prepared: PreparedImport,
    deployments: dict[str, Deployment],
    maxlag_s: float | None,
    role: str,
) -> BatchItem:
    if item.rejection or item.path is None:
        return BatchItem.objects.create(
            batch=batch,
            name=item.name[:500],
            outcome=BatchOutcome.REJECTED,
            reason=translated(item.rejection)[:500],
        )
    if item.deployment not in deployments:
        metadata = prepared.plan.deployments.get(item.deployment)
        deployments[item.deployment] = _deployment(batch, item.deployment, metadata)
    return image_ingest_reported(
        path=item.path,
        name=item.name,
        batch=batch,
        deployment=deployments[item.deployment],
        maxlag_s=maxlag_s,
        hints=_hints(item, prepared.taxa, role),
    )
