"""Request and response shapes of the inference API that pages share."""
from rest_framework import serializers

from annotation.selectors import taxon_resolve
from annotation.serializers import TaxonRefField
from faune_platform.api import IdField
from inference.engine.selection import STRATEGIES
from inference.models import SelectionBatch
from inference.selectors import selection_outcomes

# Seeds feed numpy and torch generators and a 32-bit integer column: 0..2**31-1 fits them all.
MAX_SEED = 2**31 - 1


class SelectionRequestSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="hybrid")
    size = serializers.IntegerField(min_value=1, max_value=10_000, default=100)
    organisation = IdField(required=False, allow_null=True)
    deployment = IdField(required=False, allow_null=True)
    taxon = TaxonRefField(required=False, allow_blank=True, help_text="only images predicted as this taxon")
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)

    def filters(self) -> dict:
        data = self.validated_data
        found = {key: data[key] for key in ("organisation", "deployment") if data.get(key)}
        if data.get("taxon"):
            found["taxon"] = taxon_resolve(data["taxon"]).pk
        return found


def selection_batch_rows(batches: list[SelectionBatch]) -> list[dict]:
    outcomes = selection_outcomes(batches)
    return [{"id": b.pk, "strategy": b.strategy, "size": b.size, "filters": b.filters, "seed": b.seed,
             "status": b.status, "error": b.error, "version": str(b.version) if b.version else None,
             "candidates": b.candidates, "restricted": b.restricted, "picked": len(b.picked),
             "created_by": b.created_by.username if b.created_by else None, "created_at": b.created_at,
             **outcomes[b.pk]} for b in batches]

