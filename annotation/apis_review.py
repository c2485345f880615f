"""REST API of the review desk: queues, claims, verdicts, proposals, conflicts and agreement."""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import (
    Image,
    ReviewState,
    ReviewTask,
    Taxon,
    VerdictKind,
)
from annotation.outputs import (
    AgreementSerializer,
    ConflictListSerializer,
    ProposalSavedSerializer,
    QueueCountSerializer,
    ReleasedSerializer,
    ResolvedSerializer,
    ReviewTaskSerializer,
    VerdictSavedSerializer,
)
from annotation.permissions import require_coordinator, review_taxa_of
from annotation.selectors import (
    FRAME_ORDER,
    current_label,
    review_agreement,
    review_conflicts,
    sequence_frames,
    taxon_resolve,
)
from annotation.serializers import (
    ClaimSerializer,
    ProposalCreateSerializer,
    VerdictSerializer,
    review_task_data,
)
from annotation.services.proposals import (
    taxon_proposal_create,
)
from annotation.services.review import (
    SECOND_OPINION,
    review_queue_counts,
    review_task_claim_next,
    review_task_unclaim,
)
from annotation.services.verdicts import (
    DrawnBox,
    Observation,
    Verdict,
    review_conflict_resolve,
    review_verdict_submit,
)
from faune_platform.boxes import Box
from faune_platform.converters import id_or_none


class ReviewQueueApi(APIView):
    response_serializer = QueueCountSerializer

    def get(self, request: Request) -> Response:
        """Your review queues with their counts."""
        counts = review_queue_counts(taxon_ids=review_taxa_of(request.user), user=request.user)
        return Response(QueueCountSerializer(counts, many=True).data)


def _task_response(task: ReviewTask) -> Response:
    current = current_label(task.image)
    return Response(
        ReviewTaskSerializer(
            review_task_data(task, frames=sequence_frames(task.sequence_id), current=current)
        ).data
    )


class ReviewClaimApi(APIView):
    parser_classes = [JSONParser, FormParser]
    body_serializer = ClaimSerializer
    response_serializer = ReviewTaskSerializer

    def post(self, request: Request) -> Response:
        """Claim the next task of a queue for 15 minutes (204 when the queue is empty)."""
        allowed = review_taxa_of(request.user)
        serializer = ClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data["queue"]
        second_opinion = raw == SECOND_OPINION  # open to every expert and coordinator
        queue = None if raw == "triage" or second_opinion else id_or_none(raw)
        not_a_queue = raw not in ("triage", SECOND_OPINION) and queue is None
        if not_a_queue or (queue is not None and allowed is not None and queue not in allowed):
            raise PermissionDenied(_("That queue is not one of your review taxa."))
        task = review_task_claim_next(
            user=request.user, queue_taxon_id=queue, second_opinion=second_opinion
        )
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return _task_response(task)


def _drawn(raw: dict, field: str) -> DrawnBox:
    try:
        box = Box(raw["x"], raw["y"], raw["w"], raw["h"])
    except ValueError as error:
        raise ValidationError({field: [str(error)]}) from None
    return DrawnBox(
        frame=raw["frame"], box=box, taxon=taxon_resolve(raw["taxon"]) if raw.get("taxon") else None
    )


def _verdict(request: Request, kind: str = VerdictKind.LABEL) -> Verdict:
    if kind != VerdictKind.LABEL:
        return Verdict(kind=kind)
    serializer = VerdictSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    boxes = [_drawn(raw, "boxes") for raw in data["boxes"]]
    if data.get("box"):
        boxes.append(_drawn(data["box"], "box"))
    observations = tuple(
        Observation(
            taxon=taxon_resolve(row["taxon"]),
            count=row.get("count"),
            life_stage=row["life_stage"],
            sex=row["sex"],
            behavior=row["behavior"],
        )
        for row in data["observations"]
    )
    return Verdict(
        kind=kind,
        taxon=taxon_resolve(data["taxon"]),
        boxes=tuple(boxes),
        observations=observations,
        split={frame: taxon_resolve(name) for frame, name in data["split"].items()},
        expected_current_id=data.get("expected_current"),
        seen_frames=None if data.get("frames") is None else frozenset(data["frames"]),
    )


class ReviewVerdictApi(APIView):
    """POST label / unsure / skip on a task the user holds. The answer's `saved` is the decision
    to undo."""

    parser_classes = [JSONParser, FormParser]
    kind = VerdictKind.LABEL
    response_serializer = VerdictSavedSerializer

    @property
    def body_serializer(self) -> type[VerdictSerializer] | None:
        return VerdictSerializer if self.kind == VerdictKind.LABEL else None

    def post(self, request: Request, pk: int) -> Response:
        """Your verdict on a task you hold: label it, send it to triage as unsure, or skip it."""
        review_taxa_of(request.user)
        task = review_verdict_submit(
            task_id=pk, user=request.user, verdict=_verdict(request, self.kind)
        )
        saved = {
            "id": task.pk,
            "state": task.state,
            "verdict": self.kind,
            "waiting_for_second_review": task.state == ReviewState.OPEN and self.kind == "label",
            "saved": task.decision,
        }
        return Response(
            VerdictSavedSerializer(saved).data,
            status=status.HTTP_201_CREATED
            if self.kind == VerdictKind.LABEL
            else status.HTTP_200_OK,
        )


class ReviewReleaseApi(APIView):
    """Give back a held task without a verdict (it stays offered to you and everyone)."""

    response_serializer = ReleasedSerializer

    def post(self, request: Request, pk: int) -> Response:
        review_taxa_of(request.user)
        released = review_task_unclaim(task_id=pk, user=request.user)
        return Response(ReleasedSerializer({"id": pk, "released": released}).data)


class ReviewProposeApi(APIView):
    """A taxon not in the list, for the task the user holds: `name`, optional `scientific_name`."""

    parser_classes = [JSONParser, FormParser]
    body_serializer = ProposalCreateSerializer
    response_serializer = ProposalSavedSerializer

    def post(self, request: Request, pk: int) -> Response:
        review_taxa_of(request.user)
        serializer = ProposalCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposal = taxon_proposal_create(task_id=pk, user=request.user, **serializer.validated_data)
        return Response(ProposalSavedSerializer(proposal).data, status=status.HTTP_201_CREATED)


class ReviewConflictListApi(APIView):
    response_serializer = ConflictListSerializer
    response_is_list = False

    def get(self, request: Request) -> Response:
        """Tasks whose blind double reviews disagree, with each verdict (coordinators)."""
        require_coordinator(request.user, _("see review conflicts"))
        frames = Prefetch(
            "sequence__images", Image.objects.order_by(*FRAME_ORDER), to_attr="in_order"
        )
        tasks = review_conflicts().select_related(
            "sequence", "checks_label__taxon", "checks_label__author"
        )
        tasks = tasks.prefetch_related(frames)
        names = dict(Taxon.objects.values_list("pk", "name_en"))
        rows = []
        for task in tasks[:200]:
            row = review_task_data(task, frames=task.sequence.in_order)
            row["verdicts"] = [
                {
                    "expert": v.expert.username if v.expert else None,
                    "kind": v.kind,
                    "frames": {k: names.get(t) for k, t in v.frames.items()},
                    "boxes": v.boxes,
                    "observations": v.observations,
                }
                for v in task.verdicts.all()
            ]
            rows.append(row)
        return Response(ConflictListSerializer({"count": tasks.count(), "results": rows}).data)


class ReviewResolveApi(APIView):
    parser_classes = [JSONParser, FormParser]
    body_serializer = VerdictSerializer
    response_serializer = ResolvedSerializer

    def post(self, request: Request, pk: int) -> Response:
        """Settle a review conflict with the final label (coordinators)."""
        require_coordinator(request.user, _("resolve review conflicts"))
        task = review_conflict_resolve(task_id=pk, user=request.user, verdict=_verdict(request))
        resolved = {"id": task.pk, "state": task.state, "saved": task.decision}
        return Response(ResolvedSerializer(resolved).data, status=status.HTTP_201_CREATED)


class ReviewAgreementApi(APIView):
    response_serializer = AgreementSerializer
    response_is_list = False

    def get(self, request: Request) -> Response:
        """How often experts agree: rate and Cohen's kappa, per queue and expert (coordinators)."""
        require_coordinator(request.user, _("see expert agreement"))
        return Response(AgreementSerializer(review_agreement()).data)
