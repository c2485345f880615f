"""Request and response shapes of the inference API that pages share."""
from django.utils.translation import gettext as _
from rest_framework import serializers

from annotation.models import Taxon
from annotation.selectors import UnknownTaxon, taxon_resolve
from annotation.serializers import TaxonRefField
from faune_platform.api import IdField
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES
from inference.models import Detection, NoveltyScan, SelectionBatch
from inference.selectors import selection_outcomes
from inference.services.novelty import NewTaxon

# Seeds feed numpy and torch generators and a 32-bit integer column: 0..2**31-1 fits them all.
MAX_SEED = 2**31 - 1


class DetectionSerializer(serializers.ModelSerializer):
    """A stored detector box: `box` is [x, y, width, height] as fractions of the (EXIF-rotated) image."""

    box = serializers.SerializerMethodField()
    source_label = serializers.CharField(source="get_source_display")

    class Meta:
        model = Detection
        fields = ["category", "confidence", "box", "source", "source_label", "detector"]

    def get_box(self, detection: Detection) -> list[float]:
        return detection.box.to_list()


class SelectionRequestSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=STRATEGIES, default=DEFAULT_STRATEGY)
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


class NoveltyScanRequestSerializer(serializers.Serializer):
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)


def _taxon_or_refusal(text: str) -> Taxon | None:
    if not text:
        return None
    try:
        return taxon_resolve(text)
    except UnknownTaxon as error:
        raise serializers.ValidationError(str(error)) from error


class NoveltyClusterLabelSerializer(serializers.Serializer):
    """The taxon a cluster shows: an existing one (`taxon`: id, slug or name), or a new one named here."""

    taxon = TaxonRefField(required=False, allow_blank=True, help_text="an existing taxon")
    name_en = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                    help_text="a new taxon's English name")
    name_fr = serializers.CharField(max_length=120, required=False, allow_blank=True)
    scientific_name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    parent = TaxonRefField(required=False, allow_blank=True, help_text="the new taxon's parent")

    def validate_taxon(self, value: str) -> Taxon | None:
        return _taxon_or_refusal(value)

    def validate_parent(self, value: str) -> Taxon | None:
        return _taxon_or_refusal(value)

    def validate(self, data: dict) -> dict:
        named = bool(data.get("name_en", "").strip())
        if named == bool(data.get("taxon")):
            raise serializers.ValidationError(_("Name a new taxon (name_en) or choose an existing one "
                                                "(taxon), not both."))
        if not named and (data.get("name_fr") or data.get("scientific_name") or data.get("parent")):
            raise serializers.ValidationError(_("French name, scientific name and parent describe a new "
                                                "taxon: give its English name too, or leave them empty."))
        return data

    def chosen_taxon(self) -> Taxon | None:
        return self.validated_data.get("taxon")

    def new_taxon(self) -> NewTaxon | None:
        data = self.validated_data
        if data.get("taxon"):
            return None
        return NewTaxon(name_en=data["name_en"], name_fr=data.get("name_fr", ""),
                        scientific_name=data.get("scientific_name", ""), parent=data.get("parent"))


def novelty_scan_row(scan: NoveltyScan) -> dict:
    return {"id": scan.pk, "status": scan.status, "stage": scan.stage, "error": scan.error,
            "version": str(scan.version) if scan.version else None, "seed": scan.seed,
            "scanned": scan.scanned, "sampled": scan.sampled, "labelled": scan.labelled,
            "possibly_new": scan.possibly_new, "joined": scan.joined, "scattered": scan.scattered,
            "thresholds": scan.thresholds, "clusters": len(scan.clusters),
            "created_by": scan.created_by.username if scan.created_by else None,
            "created_at": scan.created_at, "finished_at": scan.finished_at}
