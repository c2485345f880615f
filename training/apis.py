"""REST API of the training app."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import require_coordinator
from inference.serializers import MAX_SEED
from training.models import TrainingRound
from training.services.rounds import HEAD_KINDS, training_round_cancel, training_round_start


class RoundSerializer(serializers.Serializer):
    """A retraining round: its status and progress, what it trained on, its candidate version,
    metrics and log."""

    id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    progress = serializers.FloatField(help_text="0 to 1")
    params = serializers.JSONField()
    seed = serializers.IntegerField()
    snapshot = serializers.SerializerMethodField(
        help_text="the labels it used (how many, their hash) and how many organisations gave them"
    )
    candidate = serializers.IntegerField(
        source="candidate_id", help_text="the model version it registered"
    )
    parent = serializers.IntegerField(source="parent_id")
    metrics = serializers.JSONField()
    log = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()

    def get_snapshot(self, training_round: TrainingRound) -> dict[str, object]:
        """Without the frozen labels' file on the server."""
        return {key: value for key, value in training_round.snapshot.items() if key != "file"}


class RoundListApi(APIView):
    class InputSerializer(serializers.Serializer):
        """What a coordinator may set; what is left out takes the round defaults. Ranges keep a
        typing slip (epochs=1e9) from holding the worker for days."""

        mode = serializers.ChoiceField(choices=["head", "finetune"], required=False)
        head = serializers.ChoiceField(choices=HEAD_KINDS, required=False)
        min_labels = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
        epochs = serializers.IntegerField(min_value=1, max_value=1_000, required=False)
        finetune_epochs = serializers.IntegerField(min_value=1, max_value=200, required=False)
        learning_rate = serializers.FloatField(min_value=1e-7, max_value=1.0, required=False)
        seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, default=0)

    body_serializer = InputSerializer
    response_serializer = RoundSerializer

    def get(self, request: Request) -> Response:
        """The latest retraining rounds with their status, metrics and log."""
        return Response(RoundSerializer(TrainingRound.objects.all()[:100], many=True).data)

    def post(self, request: Request) -> Response:
        """Start a retraining round; it runs as a job (coordinators)."""
        require_coordinator(request.user, _("run retraining rounds"))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        params = dict(serializer.validated_data)
        seed = params.pop("seed")
        training_round = training_round_start(user=request.user, params=params, seed=seed)
        return Response(RoundSerializer(training_round).data, status=status.HTTP_202_ACCEPTED)


class RoundDetailApi(APIView):
    response_serializer = RoundSerializer

    def get(self, request: Request, pk: int) -> Response:
        """One retraining round with its status, metrics and log."""
        return Response(RoundSerializer(get_object_or_404(TrainingRound, pk=pk)).data)


class RoundCancelApi(APIView):
    response_serializer = RoundSerializer

    def post(self, request: Request, pk: int) -> Response:
        """Cancel a round that has not finished (coordinators)."""
        require_coordinator(request.user, _("run retraining rounds"))
        training_round = get_object_or_404(TrainingRound, pk=pk)
        training_round_cancel(training_round=training_round)
        training_round.refresh_from_db()
        return Response(RoundSerializer(training_round).data)
