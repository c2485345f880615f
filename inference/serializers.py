"""Request and response shapes of the inference API that pages share."""

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from annotation.models import Taxon
from annotation.outputs import DecisionSerializer
from annotation.selectors import UnknownTaxon, taxon_resolve
from annotation.serializers import TaxonRefField
from faune_platform.api import IdField
from inference.engine.selection import DEFAULT_STRATEGY, STRATEGIES
from inference.models import Detection, ModelVersion, NoveltyScan, SelectionBatch
from inference.selectors import selection_outcomes
from inference.services.novelty import NewTaxon

# Seeds feed numpy and torch generators and a 32-bit integer column: 0..2**31-1 fits them all.
MAX_SEED = 2**31 - 1


class DetectionSerializer(serializers.ModelSerializer):
    """A stored detector box: `box` is [x, y, width, height] as fractions of the
    (EXIF-rotated) image."""

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
    taxon = TaxonRefField(
        required=False, allow_blank=True, help_text="only images predicted as this taxon"
    )
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)

    def filters(self) -> dict:
        data = self.validated_data
        found = {key: data[key] for key in ("organisation", "deployment") if data.get(key)}
        if data.get("taxon"):
            found["taxon"] = taxon_resolve(data["taxon"]).pk
        return found


def selection_batch_rows(batches: list[SelectionBatch]) -> list[dict]:
    outcomes = selection_outcomes(batches)
    return [
        {
            "id": b.pk,
            "strategy": b.strategy,
            "size": b.size,
            "filters": b.filters,
            "seed": b.seed,
            "status": b.status,
            "error": b.error,
            "version": str(b.version) if b.version else None,
            "candidates": b.candidates,
            "restricted": b.restricted,
            "picked": len(b.picked),
            "created_by": b.created_by.username if b.created_by else None,
            "created_at": b.created_at,
            **outcomes[b.pk],
        }
        for b in batches
    ]


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
    """The taxon a cluster shows: an existing one (`taxon`: id, slug or name), or a new one
    named here."""

    taxon = TaxonRefField(required=False, allow_blank=True, help_text="an existing taxon")
    name_en = serializers.CharField(
        max_length=120, required=False, allow_blank=True, help_text="a new taxon's English name"
    )
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
            raise serializers.ValidationError(
                _("Name a new taxon (name_en) or choose an existing one (taxon), not both.")
            )
        if not named and (data.get("name_fr") or data.get("scientific_name") or data.get("parent")):
            raise serializers.ValidationError(
                _(
                    "French name, scientific name and parent describe a new "
                    "taxon: give its English name too, or leave them empty."
                )
            )
        return data

    def chosen_taxon(self) -> Taxon | None:
        return self.validated_data.get("taxon")

    def new_taxon(self) -> NewTaxon | None:
        data = self.validated_data
        if data.get("taxon"):
            return None
        return NewTaxon(
            name_en=data["name_en"],
            name_fr=data.get("name_fr", ""),
            scientific_name=data.get("scientific_name", ""),
            parent=data.get("parent"),
        )


class NoveltyScanSerializer(serializers.Serializer):
    """A scan for possibly new taxa and its progress."""

    id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    stage = serializers.CharField()
    error = serializers.CharField()
    version = serializers.CharField(allow_null=True)  # its name and number
    seed = serializers.IntegerField()
    scanned = serializers.IntegerField()
    sampled = serializers.BooleanField()
    labelled = serializers.IntegerField()
    possibly_new = serializers.IntegerField()
    joined = serializers.IntegerField()
    scattered = serializers.IntegerField()
    thresholds = serializers.JSONField()
    clusters = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()

    def get_clusters(self, scan: NoveltyScan) -> int:
        return len(scan.clusters)


class SelectionBatchSerializer(serializers.Serializer):
    """An active-learning batch (a row of `selection_batch_rows`) and what its reviewed
    picks taught."""

    id = serializers.IntegerField()
    strategy = serializers.CharField()
    size = serializers.IntegerField()
    filters = serializers.JSONField()
    seed = serializers.IntegerField()
    status = serializers.CharField()
    error = serializers.CharField()
    version = serializers.CharField(allow_null=True)
    candidates = serializers.IntegerField()
    restricted = serializers.BooleanField()
    picked = serializers.IntegerField(help_text="how many images it picked")
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    tasks = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    waiting = serializers.IntegerField()
    model_wrong = serializers.IntegerField()


class ModelVersionSerializer(serializers.Serializer):
    """A version of the model registry: status, backbone spec and the slugs of its classes in
    their order."""

    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    version = serializers.CharField()
    status = serializers.CharField()
    head_kind = serializers.CharField()
    zero_shot = serializers.BooleanField(source="is_zero_shot")
    backbone = serializers.JSONField()
    classes = serializers.SerializerMethodField()
    artifacts = serializers.SerializerMethodField(
        help_text="each file of the version (weights, head, detector): its sha256 and format"
    )
    created_at = serializers.DateTimeField()

    def get_classes(self, version: ModelVersion) -> list[str]:
        return [model_class.taxon.slug for model_class in version.classes.all()]

    def get_artifacts(self, version: ModelVersion) -> dict[str, dict[str, str]]:
        """Without the files' paths on the server."""
        return {
            role: {key: value for key, value in record.items() if key != "path"}
            for role, record in version.artifacts.items()
        }


class ThumbnailUrlField(serializers.Field):
    """The address of the thumbnail of the row's image (read from the row's "image" id)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(source="image", read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return reverse("image-thumbnail", args=[value])


class ImageLinkSerializer(serializers.Serializer):
    """An image in a list of results, with its thumbnail's address."""

    image = serializers.IntegerField()
    thumbnail_url = ThumbnailUrlField()


class SimilarImageSerializer(serializers.Serializer):
    """A similar image, with its thumbnail's and its page's addresses."""

    image = serializers.IntegerField()
    similarity = serializers.FloatField(help_text="cosine similarity of the embeddings")
    thumbnail_url = ThumbnailUrlField()
    url = serializers.SerializerMethodField()

    def get_url(self, row: dict) -> str:
        return reverse("image-detail", args=[row["image"]])


class SimilarByTaxonSerializer(serializers.Serializer):
    """The nearest labelled images of one candidate taxon."""

    taxon = serializers.IntegerField()
    results = SimilarImageSerializer(many=True)


class PrelabelProgressSerializer(serializers.Serializer):
    """The pre-labelling phase of an upload batch (`batch_prelabel_progress`)."""

    state = serializers.CharField(help_text="no_model, waiting, running, done or failed")
    images = serializers.IntegerField()
    predicted = serializers.IntegerField()
    error = serializers.CharField()
    version = serializers.CharField(allow_null=True)
    zero_shot = serializers.BooleanField()
    status = serializers.CharField(
        source="state", help_text="the state's name before it was called state"
    )


class RankedTaxonSerializer(serializers.Serializer):
    taxon = serializers.JSONField(
        help_text="{id, slug, name_en, name_fr}, null when the taxon is gone"
    )
    probability = serializers.FloatField()


class PredictedImageSerializer(serializers.Serializer):
    category = serializers.CharField()
    taxon = serializers.JSONField()
    score = serializers.FloatField()
    box = serializers.JSONField(
        help_text="[x, y, width, height] as fractions of the image, or null"
    )
    box_source = serializers.CharField()
    box_source_label = serializers.CharField(help_text="box_source in the reader's language")
    top = RankedTaxonSerializer(many=True)


class PredictedSequenceSerializer(serializers.Serializer):
    category = serializers.CharField()
    taxon = serializers.JSONField()
    score = serializers.FloatField()
    undefined = serializers.BooleanField()
    threshold = serializers.FloatField()
    rollup = RankedTaxonSerializer(allow_null=True)
    top = RankedTaxonSerializer(many=True)


class PredictionSummarySerializer(serializers.Serializer):
    """The production model's pre-label of an image and its sequence's verdict
    (`prediction_summary`)."""

    version = serializers.DictField(help_text="{id, name, version, zero_shot}")
    image = PredictedImageSerializer()
    sequence = PredictedSequenceSerializer(allow_null=True)


class AcceptedSerializer(serializers.Serializer):
    """What a bulk acceptance did: images labelled, skipped, left alone (with who labelled
    them since)."""

    labelled = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())
    conflicts = serializers.DictField(
        child=serializers.CharField(), help_text="{image id: why it was left alone}"
    )
    saved = DecisionSerializer(
        source="decision", allow_null=True, help_text="the decision an undo takes back"
    )


class ClusterRowSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    outliers = serializers.IntegerField()
    typical = serializers.SerializerMethodField()
    labelled_now = serializers.IntegerField()
    outcome = serializers.JSONField()

    def get_typical(self, row: dict) -> list:
        return ImageLinkSerializer([{"image": pk} for pk in row["typical"]], many=True).data


class ClusterMemberSerializer(serializers.Serializer):
    image = serializers.IntegerField()
    typicality = serializers.FloatField()
    outlier = serializers.BooleanField()
    exists = serializers.BooleanField()
    label = serializers.CharField(allow_null=True)
    predicted = serializers.CharField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    thumbnail_url = ThumbnailUrlField()


class ChosenTaxonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    slug = serializers.CharField()
    name_en = serializers.CharField()


class ClusterLabelledSerializer(serializers.Serializer):
    """What labelling a cluster did: its taxon, the members labelled, left alone, sent to
    review, skipped."""

    taxon = ChosenTaxonSerializer()
    labelled = serializers.ListField(child=serializers.IntegerField())
    conflicts = serializers.DictField(child=serializers.CharField())
    review = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())
