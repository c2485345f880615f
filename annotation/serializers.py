from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from annotation.forms import MAX_LABEL_COUNT, MAX_MAXLAG_S
from annotation.ingest.layouts import FORMATS
from annotation.models import (
    Annotation,
    BatchItem,
    Decision,
    Deployment,
    Image,
    LifeStage,
    Membership,
    ProposalStatus,
    Role,
    Sequence,
    Sex,
    Taxon,
    TaxonKind,
    TaxonProposal,
    UploadBatch,
)
from annotation.selectors import (
    FRAME_ORDER,
    batch_counts,
    batch_stored_progress,
    sequence_frames,
    sequence_label_stamp,
)
from annotation.services.class_mapping import Choice, ClassRow, choice_from_text
from annotation.services.organisations import MAX_CLOCK_OFFSET_S
from annotation.services.reasons import reason_shown
from annotation.services.review import second_opinion_note
from annotation.taxon_names import taxon_name
from faune_platform.api import IdField
from faune_platform.converters import MAX_ID, id_or_none


class TaxonRefField(serializers.CharField):
    """A taxon by id, slug or name. Digits are looked up as an id, so they must be one that fits."""

    default_error_messages = {"bad_id": _("A taxon id is a whole number from 1 to 2**63-1.")}

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
        fields = [
            "id",
            "slug",
            "name_en",
            "name_fr",
            "scientific_name",
            "parent",
            "kind",
            "deepfaune_order",
            "aliases",
        ]
        read_only_fields = ["id", "slug", "deepfaune_order"]


class TaxonCreateSerializer(serializers.Serializer):
    name_en = serializers.CharField(max_length=120)
    name_fr = serializers.CharField(max_length=120, required=False, allow_blank=True)
    scientific_name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Taxon.objects.all(), required=False, allow_null=True
    )
    kind = serializers.ChoiceField(choices=TaxonKind.choices, default=TaxonKind.ANIMAL)
    aliases = serializers.ListField(child=serializers.CharField(max_length=120), required=False)


class DeploymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Deployment
        fields = [
            "id",
            "organisation",
            "name",
            "latitude",
            "longitude",
            "camera_make",
            "camera_model",
            "start",
            "end",
            "clock_offset_s",
        ]
        read_only_fields = ["id"]
        # The model's check constraints, said here too: DRF does not run them, the database would
        # refuse (500).
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
        fields = [
            "id",
            "taxon",
            "box",
            "count",
            "life_stage",
            "sex",
            "behavior",
            "author",
            "role",
            "source",
            "applies_to",
            "undoes",
            "decision",
            "created_at",
        ]

    def get_box(self, annotation: Annotation) -> list[float] | None:
        box = annotation.box
        return box.to_list() if box else None

    def get_applies_to(self, annotation: Annotation) -> str:
        return "sequence" if annotation.sequence_id else "image"


class ImageSerializer(serializers.ModelSerializer):
    current_taxon = serializers.IntegerField(
        source="current_taxon_id", read_only=True, allow_null=True
    )
    current_label = serializers.IntegerField(
        source="current_label_id", read_only=True, allow_null=True
    )
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "organisation",
            "deployment",
            "sequence",
            "batch",
            "kind",
            "original_name",
            "sha256",
            "bytes",
            "width",
            "height",
            "taken_at",
            "exif_datetime",
            "date_note",
            "camera_make",
            "camera_model",
            "duration_s",
            "frame_count",
            "fps",
            "created_at",
            "current_taxon",
            "current_label",
            "file_url",
            "thumbnail_url",
        ]

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
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False, allow_null=True
    )
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_LABEL_COUNT, required=False, allow_null=True
    )
    life_stage = serializers.ChoiceField(
        choices=LifeStage.choices, required=False, allow_blank=True, default=""
    )
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True, default="")
    behavior = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    expected_current = serializers.IntegerField(
        min_value=0,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="id of the label you saw as current (0 for none)",
    )
    expected_sequence = serializers.IntegerField(
        min_value=0,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="with whole_sequence: the newest label id on the sequence you saw (0 for none); "
        "409 if any of its frames was labelled since",
    )
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


def _class_choices(value: object) -> dict[str, Choice]:
    """{source class: taxon id, slug or name | null (no label) | {"name_en",
    "name_fr", "scientific_name"}}."""
    if not isinstance(value, dict):
        raise serializers.ValidationError(
            _(
                "A JSON object: {source class: taxon (id, slug or name), null for no "
                'label, or {"name_en", "name_fr", "scientific_name"} for a '
                "new taxon}."
            )
        )
    try:
        return {str(name): choice_from_text(text) for name, text in value.items()}
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


class UploadFilesSerializer(serializers.Serializer):
    """Describes a multipart upload for the API schema: the view reads the files itself, one at
    a time."""

    files = serializers.ListField(
        child=serializers.FileField(), help_text="images, videos or zips of a card's folder"
    )


class UploadSerializer(UploadFilesSerializer, UploadTargetSerializer):
    """Describes POST /api/images/: the files and where they go (a deployment, or a new
    one's name)."""


class ImportRequestSerializer(UploadTargetSerializer):
    archive = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS, default="auto")
    create_taxa = serializers.BooleanField(default=False)
    maxlag = serializers.FloatField(min_value=0, max_value=MAX_MAXLAG_S, required=False)
    class_mapping = serializers.JSONField(
        binary=True,
        required=False,  # multipart: a JSON text
        help_text="{source class: taxon | null | new taxon}; see README",
    )

    def validate_class_mapping(self, value: object) -> dict[str, Choice]:
        return _class_choices(value)


class ClassMappingSerializer(serializers.Serializer):
    class_mapping = serializers.JSONField()

    def validate_class_mapping(self, value: object) -> dict[str, Choice]:
        return _class_choices(value)


def class_rows_data(rows: list[ClassRow]) -> list[dict]:
    """An import's classes as the API shows them: counts and suggestions (exact ones are applied
    by default)."""
    return [
        {
            "name": row.name,
            "images": row.images,
            "suggestion": None
            if row.suggestion is None
            else {
                "taxon": row.suggestion.taxon.slug,
                "name_en": row.suggestion.taxon.name_en,
                "name_fr": row.suggestion.taxon.name_fr,
                "how": row.suggestion.how,
                "exact": row.suggestion.exact,
                "why": row.suggestion.why,
            },
        }
        for row in rows
    ]


class BatchItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchItem
        fields = ["name", "outcome", "reason", "image", "labelled"]


class BatchSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()
    stored = serializers.SerializerMethodField()

    class Meta:
        model = UploadBatch
        fields = [
            "id",
            "organisation",
            "deployment",
            "kind",
            "source_name",
            "status",
            "total",
            "error",
            "created_at",
            "finished_at",
            "counts",
            "stored",
            "class_mapping",
        ]

    def get_counts(self, batch: UploadBatch) -> dict[str, int]:
        return batch_counts(batch)

    def get_stored(self, batch: UploadBatch) -> dict:
        """The storing phase: state (receiving, mapping, queued, running, done, failed),
        handled, total."""
        progress = batch_stored_progress(batch)
        return {key: progress[key] for key in ("state", "handled", "total")}


class ClaimSerializer(serializers.Serializer):
    queue = serializers.CharField(
        max_length=40,
        default="triage",
        help_text="a review taxon's id, 'triage', or 'second-opinion'",
    )


class BoxField(serializers.Serializer):
    frame = IdField()
    x = serializers.FloatField(min_value=0, max_value=1)
    y = serializers.FloatField(min_value=0, max_value=1)
    w = serializers.FloatField(min_value=0, max_value=1)
    h = serializers.FloatField(min_value=0, max_value=1)
    taxon = TaxonRefField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="the animal in the box; empty: the taxon the verdict gives its frame",
    )


class ObservationField(serializers.Serializer):
    """Camtrap DP's observation fields for one taxon of the verdict."""

    taxon = TaxonRefField()
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_LABEL_COUNT, required=False, allow_null=True
    )
    life_stage = serializers.ChoiceField(
        choices=LifeStage.choices, required=False, allow_blank=True, default=""
    )
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True, default="")
    behavior = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class VerdictSerializer(serializers.Serializer):
    """A label for the whole sequence (`taxon`), frames split off with another taxon (`split`:
    {frame id: taxon}), boxes (`boxes`, each with its taxon; `box` for a single one), counts and
    details per taxon (`observations`), and the task's `labels_stamp` as the expert saw it
    (`expected_current`, 0 for none) with its `frames` as the expert saw them."""

    taxon = TaxonRefField(help_text="taxon id, slug, or French/English name, for every frame")
    split = serializers.DictField(
        child=TaxonRefField(),
        required=False,
        default=dict,
        help_text="{frame id: taxon} for frames that show another taxon",
    )
    box = BoxField(
        required=False, allow_null=True, help_text="a box on one frame, as fractions of the image"
    )
    boxes = BoxField(
        many=True, required=False, default=list, help_text="boxes, each on a frame, with a taxon"
    )
    observations = ObservationField(
        many=True,
        required=False,
        default=list,
        help_text="per taxon: count, life stage, sex, behaviour (Camtrap DP)",
    )
    expected_current = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_ID,
        help_text="the task's labels_stamp as you received it",
    )
    frames = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        max_length=10_000,
        help_text="the ids of the task's frames as you received them: refused (409) if the "
        "sequence's frames changed since",
    )

    def validate_split(self, value: dict) -> dict:
        frames = {id_or_none(key): taxon for key, taxon in value.items()}
        if None in frames:
            raise serializers.ValidationError(_("Split frames are given by their image id."))
        return frames


def _taxon_brief(taxon: Taxon) -> dict:
    return {"id": taxon.pk, "slug": taxon.slug, "name_en": taxon.name_en, "name_fr": taxon.name_fr}


def _checked_label(task) -> dict | None:
    """The label a task checks (a partner's correction): the desk offers it first."""
    label = task.checks_label
    if label is None:
        return None
    return {
        "id": label.pk,
        "taxon": _taxon_brief(label.taxon),
        "author": label.author.username if label.author else None,
        "role": label.role,
        "source": label.source,
        "created_at": label.created_at,
    }


def review_task_data(task, *, frames, current=None) -> dict:
    """A task as the review page needs it: every frame of its sequence (`frames`, in time order),
    the current label, the label it checks (`checks_label`), and why it is offered (`reason`;
    `second_opinion` too when it waited past the wait for an expert of its taxon: a claimed task
    carries `waiting_since`)."""
    return {
        "id": task.pk,
        "image": task.image_id,
        "sequence": task.sequence_id,
        "state": task.state,
        "queue": task.queue_taxon_id or "triage",
        "queue_name": taxon_name(task.queue_taxon) if task.queue_taxon_id else gettext("triage"),
        "reason": reason_shown(task),
        "second_opinion": second_opinion_note(task=task),
        "waiting_since": getattr(task, "waiting_since", None),
        "score": task.score,
        "claimed_until": task.claimed_until,
        "reviews_needed": task.reviews_needed,
        "frames": [
            {
                "id": frame.pk,
                "kind": frame.kind,
                "taken_at": frame.taken_at,
                "width": frame.width,
                "height": frame.height,
                "url": reverse("image-file", args=[frame.pk]),
                "thumbnail_url": reverse("image-thumbnail", args=[frame.pk]),
            }
            for frame in frames
        ],
        "current_label": AnnotationSerializer(current).data if current else None,
        "checks_label": _checked_label(task),
        # Send it back as `expected_current` with the verdict: a label on any frame since then is
        # a conflict.
        "labels_stamp": sequence_label_stamp(task.sequence_id),
    }


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    review_taxa = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "organisation", "role", "review_taxa"]


class MembershipInputSerializer(serializers.Serializer):
    """Add a member or change their role; `review_taxa` (ids, slugs or names) are the taxa an
    expert reviews."""

    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    review_taxa = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=200
    )

    def validate_username(self, value: str) -> User:
        user = User.objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(
                _("No account is named %(name)r; create it in the admin first.") % {"name": value}
            )
        return user


def decision_data(decision: Decision) -> dict:
    """A decision as the pages show it: what was saved, and whether its author can still try to
    undo it."""
    return {
        "id": decision.pk,
        "kind": decision.kind,
        "summary": decision.summary,
        "task": decision.task_id,
        "created_at": decision.created_at,
    }


class ProposalCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    scientific_name = serializers.CharField(
        max_length=160, required=False, allow_blank=True, default=""
    )


class ProposalAcceptSerializer(serializers.Serializer):
    """Accept as an existing `taxon`, or create one: `name_en` (else the proposed name), `name_fr`,
    `scientific_name`, `parent`."""

    taxon = TaxonRefField(required=False, allow_blank=True)
    name_en = serializers.CharField(max_length=120, required=False, allow_blank=True)
    name_fr = serializers.CharField(max_length=120, required=False, allow_blank=True)
    scientific_name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Taxon.objects.all(), required=False, allow_null=True
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ProposalDeclineSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ProposalQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*ProposalStatus.values, "all"],
        default=ProposalStatus.PENDING,
        help_text="pending (the default), accepted, declined, withdrawn, or all",
    )


class DecisionQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=50, default=5, help_text="how many, newest first"
    )


class TaxonProposalSerializer(serializers.ModelSerializer):
    proposed_by = serializers.CharField(source="proposed_by.username", default=None, read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)
    taxon = serializers.SerializerMethodField()
    frames = serializers.SerializerMethodField()

    class Meta:
        model = TaxonProposal
        fields = [
            "id",
            "name",
            "scientific_name",
            "proposed_by",
            "task",
            "status",
            "taxon",
            "decided_by",
            "decided_at",
            "note",
            "created_at",
            "frames",
        ]

    def get_taxon(self, proposal: TaxonProposal) -> dict | None:
        return _taxon_brief(proposal.taxon) if proposal.taxon_id else None

    def get_frames(self, proposal: TaxonProposal) -> list[dict]:
        prefetched = "frames" in getattr(
            proposal, "_prefetched_objects_cache", {}
        )  # in order (taxon_proposals)
        frames = proposal.frames.all() if prefetched else proposal.frames.order_by(*FRAME_ORDER)
        return [
            {
                "id": frame.pk,
                "url": reverse("image-detail", args=[frame.pk]),
                "thumbnail_url": reverse("image-thumbnail", args=[frame.pk]),
            }
            for frame in frames
        ]
