"""Freezing the labelled pool for a round: which current labels, on which images, with which embeddings."""
import hashlib
from dataclasses import dataclass

import numpy as np

from annotation.models import Image, Taxon, TaxonKind
from annotation.selectors import with_current_label
from inference.engine.stored import from_f16_bytes
from inference.models import Embedding


@dataclass
class Snapshot:
    image_ids: np.ndarray
    label_ids: np.ndarray  # the winning annotation of each image: what exactly the round learned from
    taxon_ids: np.ndarray
    sequence_ids: np.ndarray
    deployment_ids: np.ndarray  # -1 where unknown
    features: np.ndarray  # raw pooled features (stored unit vector x stored norm), what the backbone's head sees

    @property
    def label_hash(self) -> str:
        return hashlib.sha256(np.sort(self.label_ids).astype(np.int64).tobytes()).hexdigest()


def labelled_snapshot(backbone_key: str) -> Snapshot:
    """Every image whose current label is an animal taxon and that has an embedding of this backbone."""
    animal_taxa = set(Taxon.objects.filter(kind=TaxonKind.ANIMAL).values_list("pk", flat=True))
    rows = [row for row in with_current_label(Image.objects.filter(embeddings__backbone_key=backbone_key))
            .values_list("pk", "current_label_id", "current_taxon_id", "sequence_id", "deployment_id")
            if row[2] in animal_taxa]
    vectors = {image_id: (vector, norm) for image_id, vector, norm in Embedding.objects.filter(
        backbone_key=backbone_key, image_id__in=[r[0] for r in rows]).values_list("image_id", "vector", "norm")}
    rows.sort()
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    features = np.stack([from_f16_bytes(vectors[r[0]][0]) * vectors[r[0]][1] for r in rows]) if rows \
        else np.zeros((0, 0), dtype=np.float32)
    return Snapshot(np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64),
                    np.array(columns[2], dtype=np.int64), np.array(columns[3], dtype=np.int64),
                    np.array([d if d is not None else -1 for d in columns[4]], dtype=np.int64), features)


def class_list(
    taxon_ids: np.ndarray, train_mask: np.ndarray, minimum: int
) -> tuple[list[int], dict[int, int], list[str]]:
    """Taxa with at least `minimum` training labels become classes; rarer ones merge into their parent when
    the parent is a class, else they are left out. Returns (classes, taxon -> class taxon, report lines)."""
    counts = {int(t): int(n) for t, n in zip(*np.unique(taxon_ids[train_mask], return_counts=True), strict=True)}
    taxa = {t.pk: t for t in Taxon.objects.filter(pk__in=set(taxon_ids.tolist()))}
    classes = sorted((t for t, n in counts.items() if n >= minimum), key=lambda t: (taxa[t].deepfaune_order is None,
                                                                                      taxa[t].deepfaune_order or 0, t))
    mapping, report = {t: t for t in classes}, []
    for taxon_id in sorted(set(taxon_ids.tolist()) - set(classes)):
        taxon, seen = taxa[taxon_id], counts.get(taxon_id, 0)
        if taxon.parent_id in mapping:
            mapping[taxon_id] = taxon.parent_id
            report.append(f"{taxon.name_en}: {seen} training label(s), under {minimum}: merged into "
                          f"{taxa[taxon.parent_id].name_en}")
        else:
            report.append(f"{taxon.name_en}: {seen} training label(s), under {minimum}: left out of this round")
    return classes, mapping, report
