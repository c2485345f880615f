from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework import serializers

from annotation.forms import MAX_LABEL_COUNT, MAX_MAXLAG_S
from annotation.ingest.layouts import FORMATS
from annotation.models import (
    Annotation,
    BatchItem,
    Deployment,
    Image,
    Membership,
    Role,
    Sequence,
    Taxon,
    TaxonKind,
    UploadBatch,
)
from annotation.selectors import sequence_frames, sequence_label_stamp
from annotation.services.batches import batch_counts
from annotation.services.organisations import MAX_CLOCK_OFFSET_S
from annotation.services.review import second_opinion_note
from faune_platform.api import IdField
from faune_platform.converters import MAX_ID, id_or_none


class TaxonRefField(serializers.CharField):
    """A taxon by id, slug or name. Digits are looked up as an id, so they must be one that fits."""

    default_error_messages = {"bad_id": "A taxon id is a whole number from 1 to 2**63-1."}

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 160)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str:
        text = super().to_internal_value(data)
        if text.isdigit() and id_or_none(text) is None:
            self.fail("bad_id")
        return text


class TaxonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Taxon
        fields = ["id", "slug", "name_en", "name_fr", "scientific_name", "parent", "kind", "deepfaune_order",
                  "aliases"]
        read_only_fields = ["id", "slug", "deepfaune_order"]


class TaxonCreateSerializer(serializers.Serializer):
    name_en = serializers.CharField(max_length=120)
    name_fr = serializers.CharField(max_length=120, required=False, allow_blank=True)
    scientific_name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    parent = serializers.PrimaryKeyRelatedField(queryset=Taxon.objects.all(), required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=TaxonKind.choices, default=TaxonKind.ANIMAL)
    aliases = serializers.ListField(child=serializers.CharField(max_length=120), required=False)


class DeploymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Deployment
        fields = ["id", "organisation", "name", "latitude", "longitude", "camera_make", "camera_model", "start",
                  "end", "clock_offset_s"]
        read_only_fields = ["id"]
        # The model's check constraints, said here too: DRF does not run them, the database would refuse (500).
        extra_kwargs = {
            "latitude": {"min_value": -90, "max_value": 90},
            "longitude": {"min_value": -180, "max_value": 180},
            "clock_offset_s": {"min_value": -MAX_CLOCK_OFFSET_S, "max_value": MAX_CLOCK_OFFSET_S},
        }


class AnnotationSerializer(serializers.ModelSerializer):
    taxon = TaxonSerializer(read_only=True)
    author = serializers.CharField(source="author.username", default=None, read_only=True)
    box = serializers.SerializerMethodField()
    applies_to = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = ["id", "taxon", "box", "count", "author", "role", "source", "applies_to", "created_at"]

    def get_box(self, annotation: Annotation) -> list[float] | None:
        if not annotation.has_box:
            return None
        return [annotation.box_x, annotation.box_y, annotation.box_w, annotation.box_h]

    def get_applies_to(self, annotation: Annotation) -> str:
        return "sequence" if annotation.sequence_id else "image"


class ImageSerializer(serializers.ModelSerializer):
    current_taxon = serializers.IntegerField(source="current_taxon_id", read_only=True, allow_null=True)
    current_label = serializers.IntegerField(source="current_label_id", read_only=True, allow_null=True)
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = ["id", "organisation", "deployment", "sequence", "batch", "kind", "original_name", "sha256",
                  "bytes", "width", "height", "taken_at", "exif_datetime", "date_note", "camera_make",
                  "camera_model", "duration_s", "frame_count", "fps", "created_at", "current_taxon",
                  "current_label", "file_url", "thumbnail_url"]

    def get_file_url(self, image: Image) -> str:
        return reverse("image-file", args=[image.pk])

    def get_thumbnail_url(self, image: Image) -> str:
        return reverse("image-thumbnail", args=[image.pk])


class SequenceSerializer(serializers.ModelSerializer):
    images = serializers.SerializerMethodField()

    class Meta:
        model = Sequence
        fields = ["id", "deployment", "start", "end", "external_id", "images"]

    def get_images(self, sequence: Sequence) -> list[int]:
        return list(sequence_frames(sequence.pk).values_list("pk", flat=True))


class ImageDetailSerializer(ImageSerializer):
    sequence = SequenceSerializer(read_only=True)
    history = serializers.SerializerMethodField()

    class Meta(ImageSerializer.Meta):
        fields = [*ImageSerializer.Meta.fields, "history"]

    def get_history(self, image: Image) -> list[dict]:
        return AnnotationSerializer(self.context["history"], many=True).data


class AnnotationCreateSerializer(serializers.Serializer):
    taxon = TaxonRefField(help_text="taxon id, slug, or French/English name")
    whole_sequence = serializers.BooleanField(default=False)
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4, required=False,
                                allow_null=True)
    count = serializers.IntegerField(min_value=1, max_value=MAX_LABEL_COUNT, required=False, allow_null=True)
    expected_current = serializers.IntegerField(min_value=0, max_value=MAX_ID, required=False, allow_null=True,
                                                help_text="id of the label you saw as current (0 for none)")
    accept_prediction = serializers.BooleanField(default=False)


class ImageFilterSerializer(serializers.Serializer):
    organisation = IdField(required=False)
    deployment = IdField(required=False)
    batch = IdField(required=False)
    taken_after = serializers.DateTimeField(required=False)
    taken_before = serializers.DateTimeField(required=False)
    taxon = TaxonRefField(required=False)
    labelled = serializers.BooleanField(required=False, allow_null=True, default=None)


class UploadTargetSerializer(serializers.Serializer):
    organisation = IdField(required=False)
    deployment = IdField(required=False)
    deployment_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class UploadFilesSerializer(serializers.Serializer):
    """Describes a multipart upload for the API schema: the view reads the files itself, one at a time."""

    files = serializers.ListField(child=serializers.FileField(), help_text="images, videos or zips of a card's folder")


class UploadSerializer(UploadFilesSerializer, UploadTargetSerializer):
    """Describes POST /api/images/: the files and where they go (a deployment, or a new one's name)."""


class ImportRequestSerializer(UploadTargetSerializer):
    archive = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS, default="auto")
    create_taxa = serializers.BooleanField(default=False)
    maxlag = serializers.FloatField(min_value=0, max_value=MAX_MAXLAG_S, required=False)


class BatchItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchItem
        fields = ["name", "outcome", "reason", "image", "labelled"]


class BatchSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = UploadBatch
        fields = ["id", "organisation", "deployment", "kind", "source_name", "status", "total", "error",
                  "created_at", "finished_at", "counts"]

    def get_counts(self, batch: UploadBatch) -> dict[str, int]:
        return batch_counts(batch)


class ClaimSerializer(serializers.Serializer):
    queue = serializers.CharField(max_length=40, default="triage",
                                  help_text="a review taxon's id, 'triage', or 'second-opinion'")


class BoxField(serializers.Serializer):
    frame = IdField()
    x = serializers.FloatField(min_value=0, max_value=1)
    y = serializers.FloatField(min_value=0, max_value=1)
    w = serializers.FloatField(min_value=0, max_value=1)
    h = serializers.FloatField(min_value=0, max_value=1)


class VerdictSerializer(serializers.Serializer):
    """A label for the whole sequence (`taxon`), frames split off with another taxon (`split`: {frame id:
    taxon}), an optional box, and the task's `labels_stamp` as the expert saw it (`expected_current`, 0 for none)."""

    taxon = TaxonRefField(help_text="taxon id, slug, or French/English name, for every frame")
    split = serializers.DictField(child=TaxonRefField(), required=False, default=dict,
                                  help_text="{frame id: taxon} for frames that show another taxon")
    box = BoxField(required=False, allow_null=True, help_text="a box on one frame, as fractions of the image")
    expected_current = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_ID,
                                                help_text="the task's labels_stamp as you received it")

    def validate_split(self, value: dict) -> dict:
        frames = {id_or_none(key): taxon for key, taxon in value.items()}
        if None in frames:
            raise serializers.ValidationError("Split frames are given by their image id.")
        return frames


def review_task_data(task, *, frames, current=None) -> dict:
    """A task as the review page needs it: every frame of its sequence (`frames`, in time order), the current
    label, and why it is offered (`reason`; `second_opinion` too when it waited past the wait for an expert of
    its taxon: a claimed task carries `waiting_since`)."""
    return {
        "id": task.pk, "image": task.image_id, "sequence": task.sequence_id, "state": task.state,
        "queue": task.queue_taxon_id or "triage",
        "queue_name": task.queue_taxon.name_en if task.queue_taxon_id else "triage",
        "reason": task.reason, "second_opinion": second_opinion_note(task=task),
        "waiting_since": getattr(task, "waiting_since", None),
        "score": task.score, "claimed_until": task.claimed_until, "reviews_needed": task.reviews_needed,
        "frames": [{"id": frame.pk, "kind": frame.kind, "taken_at": frame.taken_at, "width": frame.width,
                    "height": frame.height,
                    "url": reverse("image-file", args=[frame.pk]),
                    "thumbnail_url": reverse("image-thumbnail", args=[frame.pk])} for frame in frames],
        "current_label": AnnotationSerializer(current).data if current else None,
        # Send it back as `expected_current` with the verdict: a label on any frame since then is a conflict.
        "labels_stamp": sequence_label_stamp(task.sequence_id),
    }


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    review_taxa = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "organisation", "role", "review_taxa"]


class MembershipInputSerializer(serializers.Serializer):
    """Add a member or change their role; `review_taxa` (ids, slugs or names) are the taxa an expert reviews."""

    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    review_taxa = serializers.ListField(child=serializers.CharField(max_length=120), required=False,
                                        max_length=200)

    def validate_username(self, value: str) -> User:
        user = User.objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"No account is named {value!r}; create it in the admin first.")
        return user
