"""Freezing the labelled pool for a round: which current labels, on which images, with
which embeddings."""

import hashlib
from dataclasses import dataclass

import numpy as np

from annotation.models import Taxon, TaxonKind
from inference.engine.stored import from_f16_bytes
from inference.models import Embedding

ROW_CHUNK = 20_000  # embeddings read per round trip


@dataclass
class Snapshot:
    image_ids: np.ndarray
    label_ids: (
        np.ndarray
    )  # the winning annotation of each image: what exactly the round learned from
    taxon_ids: np.ndarray
    sequence_ids: np.ndarray
    deployment_ids: np.ndarray  # -1 where unknown
    organisation_ids: np.ndarray
    sources: np.ndarray  # the winning label's source (expert, partner, model_accepted, import)
    features: (
        np.ndarray
    )  # raw pooled features (stored unit vector x stored norm), what the backbone's head sees

    @property
    def label_hash(self) -> str:
        return hashlib.sha256(np.sort(self.label_ids).astype(np.int64).tobytes()).hexdigest()


COLUMNS = (
    "image_id",
    "image__current_label_id",
    "image__current_taxon_id",
    "image__sequence_id",
    "image__deployment_id",
    "image__organisation_id",
    "image__current_source",
    "vector",
    "norm",
)


def labelled_snapshot(
    backbone_key: str, *, kinds: tuple[str, ...] = (TaxonKind.ANIMAL,)
) -> Snapshot:
    """Every image whose current label is a taxon of these kinds and that has an embedding of
    this backbone, in image id order, read in one streamed query (no id list is ever sent to
    the database)."""
    rows = (
        Embedding.objects.filter(
            backbone_key=backbone_key,
            image__current_label__isnull=False,
            image__current_taxon__kind__in=kinds,
        )
        .order_by("image_id")
        .values_list(*COLUMNS)
    )
    ids, labels, taxa, sequences, deployments, organisations, sources, features = (
        [] for _ in range(8)
    )
    for (
        image_id,
        label,
        taxon,
        sequence,
        deployment,
        organisation,
        source,
        vector,
        norm,
    ) in rows.iterator(chunk_size=ROW_CHUNK):
        ids.append(image_id)
        labels.append(label)
        taxa.append(taxon)
        sequences.append(sequence)
        deployments.append(-1 if deployment is None else deployment)
        organisations.append(organisation)
        sources.append(source)
        features.append(from_f16_bytes(vector) * norm)
    return Snapshot(
        np.array(ids, dtype=np.int64),
        np.array(labels, dtype=np.int64),
        np.array(taxa, dtype=np.int64),
        np.array(sequences, dtype=np.int64),
        np.array(deployments, dtype=np.int64),
        np.array(organisations, dtype=np.int64),
        np.array(sources, dtype=object),
        np.stack(features) if features else np.zeros((0, 0), dtype=np.float32),
    )


def class_list(
    taxon_ids: np.ndarray, *, train_mask: np.ndarray, minimum: int
) -> tuple[list[int], dict[int, int], list[str]]:
    """Taxa with at least `minimum` training labels become classes; rarer ones merge into their
    parent when the parent is a class, else they are left out. Returns (classes, taxon -> class
    taxon, report lines)."""
    counts = {
        int(t): int(n)
        for t, n in zip(*np.unique(taxon_ids[train_mask], return_counts=True), strict=True)
    }
    taxa = {t.pk: t for t in Taxon.objects.filter(pk__in=set(taxon_ids.tolist()))}
    classes = sorted(
        (t for t, n in counts.items() if n >= minimum),
        key=lambda t: (taxa[t].deepfaune_order is None, taxa[t].deepfaune_order or 0, t),
    )
    mapping, report = {t: t for t in classes}, []
    for taxon_id in sorted(set(taxon_ids.tolist()) - set(classes)):
        taxon, seen = taxa[taxon_id], counts.get(taxon_id, 0)
        if taxon.parent_id in mapping:
            mapping[taxon_id] = taxon.parent_id
            report.append(
                f"{taxon.name_en}: {seen} training label(s), under {minimum}: merged into "
                f"{taxa[taxon.parent_id].name_en}"
            )
        else:
            report.append(
                f"{taxon.name_en}: {seen} training label(s), under {minimum}: left out of this "
                "round"
            )
    return classes, mapping, report
