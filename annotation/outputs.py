"""What the annotation API answers where no model serializer says it: the JSON shape
of each such response, declared here (the request shapes and the model serializers are
in annotation/serializers.py)."""

from rest_framework import serializers

from annotation.models import Decision
from annotation.serializers import (
    AnnotationSerializer,
    BatchItemSerializer,
    TaxonProposalSerializer,
)


class DecisionSerializer(serializers.Serializer):
    """A decision: what was saved, the one thing an undo takes back."""

    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    summary = serializers.CharField()
    task = serializers.IntegerField(source="task_id")
    created_at = serializers.DateTimeField()


def decision_or_none(decision: Decision | None) -> dict | None:
    return DecisionSerializer(decision).data if decision is not None else None


class UploadResultSerializer(serializers.Serializer):
    """Each file of an upload with its outcome, the batch's counts, and `detail` when no file
    was accepted."""

    batch = serializers.IntegerField()
    files = BatchItemSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    detail = serializers.CharField(required=False)  # left out unless every file was refused


class ClassRowSerializer(serializers.Serializer):
    """A class of an import: its file count and the suggested taxon (`class_rows_data`)."""

    name = serializers.CharField()
    images = serializers.IntegerField()
    suggestion = serializers.JSONField(
        help_text="{taxon, name_en, name_fr, how, exact, why}, or null"
    )


class ImportClassesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    class_mapping = serializers.JSONField()
    classes = ClassRowSerializer(many=True)


class AnnotationSavedSerializer(AnnotationSerializer):
    """A label just saved, with the decision that saved it (`saved`, given in the context)."""

    saved = serializers.SerializerMethodField()

    class Meta(AnnotationSerializer.Meta):
        fields = [*AnnotationSerializer.Meta.fields, "saved"]

    def get_saved(self, annotation: object) -> dict | None:
        return decision_or_none(self.context["saved"])


class ProposalSavedSerializer(TaxonProposalSerializer):
    saved = DecisionSerializer(source="decision")

    class Meta(TaxonProposalSerializer.Meta):
        fields = [*TaxonProposalSerializer.Meta.fields, "saved"]


class ProposalAcceptedSerializer(TaxonProposalSerializer):
    """An accepted proposal, with the frames labelled and those left alone (the outcome, given in
    the context)."""

    labelled = serializers.SerializerMethodField()
    left_alone = serializers.SerializerMethodField(
        help_text="{frame id: who labelled it since the proposal}"
    )

    class Meta(TaxonProposalSerializer.Meta):
        fields = [*TaxonProposalSerializer.Meta.fields, "labelled", "left_alone"]

    def get_labelled(self, proposal: object) -> list[int]:
        return self.context["outcome"].labelled

    def get_left_alone(self, proposal: object) -> dict[int, str]:
        return self.context["outcome"].left_alone


class QueueCountSerializer(serializers.Serializer):
    queue = serializers.JSONField(help_text="the queue's taxon id, 'triage' or 'second-opinion'")
    name = serializers.CharField()
    name_fr = serializers.CharField()
    open = serializers.IntegerField()


class FrameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    taken_at = serializers.DateTimeField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    url = serializers.CharField()
    thumbnail_url = serializers.CharField()


class ReviewTaskSerializer(serializers.Serializer):
    """A task as the review desk needs it (`review_task_data`): its frames, the current label, the
    label it checks, why it is offered, and the `labels_stamp` to send back as
    `expected_current`."""

    id = serializers.IntegerField()
    image = serializers.IntegerField()
    sequence = serializers.IntegerField()
    state = serializers.CharField()
    queue = serializers.JSONField(help_text="the queue's taxon id, or 'triage'")
    queue_name = serializers.CharField(
        help_text="the queue named in the request's language; `queue` is the stable identifier"
    )
    reason = serializers.CharField()
    second_opinion = serializers.CharField()
    waiting_since = serializers.DateTimeField()
    score = serializers.FloatField()
    claimed_until = serializers.DateTimeField()
    reviews_needed = serializers.IntegerField()
    frames = FrameSerializer(many=True)
    current_label = serializers.JSONField(help_text="an annotation, or null")
    checks_label = serializers.JSONField(help_text="the label it checks, or null")
    labels_stamp = serializers.IntegerField()


class ConflictVerdictSerializer(serializers.Serializer):
    expert = serializers.CharField(allow_null=True)
    kind = serializers.CharField()
    frames = serializers.DictField(
        child=serializers.CharField(allow_null=True), help_text="{frame id: taxon}"
    )
    boxes = serializers.JSONField()
    observations = serializers.JSONField()


class ConflictTaskSerializer(ReviewTaskSerializer):
    verdicts = ConflictVerdictSerializer(many=True)


class ConflictListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = ConflictTaskSerializer(many=True)


class AgreementRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    double_reviews = serializers.IntegerField()
    agreement = serializers.FloatField()


class AgreementSerializer(serializers.Serializer):
    """How often experts agree (`review_agreement`): rate and Cohen's kappa, per queue and
    per expert."""

    double_reviews = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    kappa = serializers.FloatField(allow_null=True)
    by_queue = AgreementRowSerializer(many=True)
    by_expert = AgreementRowSerializer(many=True)
    conflicts_open = serializers.IntegerField()


class VerdictSavedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    verdict = serializers.CharField()
    waiting_for_second_review = serializers.BooleanField()
    saved = DecisionSerializer()


class ReleasedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    released = serializers.BooleanField()


class ResolvedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    saved = DecisionSerializer()


class UndoneSerializer(serializers.Serializer):
    """What an undo did: the decision undone, the undo itself, and the task when it is
    yours again."""

    undone = serializers.IntegerField(help_text="the id of the decision undone")
    saved = DecisionSerializer()
    task = ReviewTaskSerializer(allow_null=True)
