"""REST API of the labelled pool: taxa, deployments, images and their annotations, decisions and
their undo, taxon proposals. Thin views that validate, call one service or selector, serialize;
uploads, the review desk and members have their own modules (apis_uploads, apis_review,
apis_people)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis_uploads import batch_open_from_request, request_files, upload_response
from annotation.models import (
    Deployment,
    Image,
    TaxonProposal,
)
from annotation.outputs import (
    AnnotationSavedSerializer,
    DecisionSerializer,
    ProposalAcceptedSerializer,
    UndoneSerializer,
    UploadResultSerializer,
)
from annotation.permissions import require_coordinator, user_access
from annotation.selectors import (
    deployments_visible_to,
    image_editable_by,
    image_filter,
    images_visible_to,
    label_history,
    sequence_frames,
    taxon_proposals,
    taxon_resolve,
    visible_image_or_404,
)
from annotation.serializers import (
    AnnotationCreateSerializer,
    AnnotationSerializer,
    DecisionQuerySerializer,
    DeploymentSerializer,
    ImageDetailSerializer,
    ImageFilterSerializer,
    ImageSerializer,
    ProposalAcceptSerializer,
    ProposalDeclineSerializer,
    ProposalQuerySerializer,
    TaxonCreateSerializer,
    TaxonProposalSerializer,
    TaxonSerializer,
    UploadSerializer,
    review_task_data,
)
from annotation.services.annotations import Details
from annotation.services.batches import batch_add_uploads
from annotation.services.organisations import (
    deployment_get_or_create,
)
from annotation.services.proposals import (
    taxon_proposal_accept,
    taxon_proposal_decline,
)
from annotation.services.taxa import taxon_create
from annotation.services.undo import decision_undo, decisions_undoable, label_decided
from annotation.taxon_names import taxa_in_reading_order
from faune_platform.boxes import Box


class TaxonListApi(APIView):
    body_serializer = TaxonCreateSerializer
    response_serializer = TaxonSerializer

    def get(self, request: Request) -> Response:
        """Every taxon, sorted by name in the reader's language."""
        return Response(TaxonSerializer(taxa_in_reading_order(), many=True).data)

    def post(self, request: Request) -> Response:
        """Add a taxon (coordinators)."""
        require_coordinator(request.user, _("add taxa"))
        serializer = TaxonCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        taxon = taxon_create(**serializer.validated_data, created_by=request.user)
        return Response(TaxonSerializer(taxon).data, status=status.HTTP_201_CREATED)


class DeploymentListApi(ListAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self) -> QuerySet[Deployment]:
        return deployments_visible_to(self.request.user).order_by("pk")

    def get(self, request: Request) -> Response:
        """The deployments (cameras) of your organisations, paginated."""
        return super().get(request)

    def post(self, request: Request) -> Response:
        """Add a deployment to one of your organisations (or get the one of that name)."""
        serializer = DeploymentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organisation, name = data.pop("organisation"), data.pop("name")
        if not user_access(request.user).can_contribute_to(organisation.pk):
            raise PermissionDenied(
                _("You are not a member of %(organisation)s.") % {"organisation": organisation.name}
            )
        deployment = deployment_get_or_create(organisation=organisation, name=name, **data)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class ImageListApi(ListAPIView):
    serializer_class = ImageSerializer
    parser_classes = [MultiPartParser, FormParser]
    query_serializer = ImageFilterSerializer
    body_serializer = UploadSerializer
    response_serializer = {"post": UploadResultSerializer}  # GET: its serializer_class

    def get_queryset(self) -> QuerySet[Image]:
        filters = ImageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        if params.get("taxon"):
            params["taxon"] = taxon_resolve(params["taxon"]).pk
        images = images_visible_to(self.request.user).select_related(None)
        return image_filter(images, **params)

    def get(self, request: Request) -> Response:
        """The images you can see, newest first, paginated and filtered."""
        return super().get(request)

    def post(self, request: Request) -> Response:
        """Upload images, videos or zips of a card's folder (multipart `files`) into a new batch."""
        files = request_files(request, "files", "file")
        if not files:
            return Response(
                {"detail": _("Send one or more files in the multipart field 'files'.")}, status=400
            )
        batch = batch_open_from_request(request, files)
        items = batch_add_uploads(batch=batch, uploads=files)
        return upload_response(batch, items)


def _visible_image(request: Request, pk: int) -> Image:
    return visible_image_or_404(request.user, pk, "sequence", "organisation")


class ImageDetailApi(APIView):
    response_serializer = ImageDetailSerializer

    def get(self, request: Request, pk: int) -> Response:
        """One image with its sequence and label history."""
        image = _visible_image(request, pk)
        context = {"history": label_history(image)}
        return Response(ImageDetailSerializer(image, context=context).data)


class ImageAnnotationApi(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    body_serializer = AnnotationCreateSerializer
    response_serializer = {"get": AnnotationSerializer, "post": AnnotationSavedSerializer}

    def get(self, request: Request, pk: int) -> Response:
        """The image's label history, newest first."""
        return Response(
            AnnotationSerializer(label_history(_visible_image(request, pk)), many=True).data
        )

    def post(self, request: Request, pk: int) -> Response:
        """Label the image (or its whole sequence); 409 when `expected_current` is no
        longer current."""
        image = _visible_image(request, pk)
        if not image_editable_by(request.user, image):
            raise PermissionDenied(
                _(
                    "You can see this image but not label it: it is outside your organisation "
                    "and your review taxa."
                )
            )
        serializer = AnnotationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            box = Box.from_list(data["box"]) if data.get("box") else None
        except ValueError as error:
            return Response({"detail": str(error)}, status=400)
        taxon = taxon_resolve(data["taxon"])
        details = Details(
            count=data.get("count"),
            life_stage=data["life_stage"],
            sex=data["sex"],
            behavior=data["behavior"],
        )
        annotation, decision = label_decided(
            image=image,
            taxon=taxon,
            author=request.user,
            whole_sequence=data["whole_sequence"],
            box=box,
            details=details,
            expected_current_id=data.get("expected_current"),
            expected_sequence_stamp=data.get("expected_sequence"),
            accept_prediction=data["accept_prediction"],
        )
        return Response(
            AnnotationSavedSerializer(annotation, context={"saved": decision}).data,
            status=status.HTTP_201_CREATED,
        )


class DecisionListApi(APIView):
    """Your newest decisions not undone yet (`limit`, 5 by default, at most 50)."""

    query_serializer = DecisionQuerySerializer
    response_serializer = DecisionSerializer

    def get(self, request: Request) -> Response:
        query = DecisionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        return Response(
            DecisionSerializer(decisions_undoable(user=request.user, limit=limit), many=True).data
        )


class DecisionUndoApi(APIView):
    """Undo one of your decisions: 200 with what was undone (and the task, when it is yours again),
    409 with why not."""

    response_serializer = UndoneSerializer

    def post(self, request: Request, pk: int) -> Response:
        undone = decision_undo(decision_id=pk, user=request.user)
        task = None
        if undone.task is not None:
            task = review_task_data(
                undone.task,
                frames=sequence_frames(undone.task.sequence_id),
                current=label_history(undone.task.image).first(),
            )
        return Response(
            UndoneSerializer(
                {"undone": undone.undo.undoes_id, "saved": undone.undo, "task": task}
            ).data
        )


class TaxonProposalListApi(APIView):
    """Coordinators: proposals of new taxa (`status`: pending by default, or all)."""

    query_serializer = ProposalQuerySerializer
    response_serializer = TaxonProposalSerializer

    def get(self, request: Request) -> Response:
        require_coordinator(request.user, _("see proposals of new taxa"))
        query = ProposalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        proposals = taxon_proposals(query.validated_data["status"])
        return Response(TaxonProposalSerializer(proposals[:200], many=True).data)


def _proposal_of(request: Request, pk: int) -> TaxonProposal:
    require_coordinator(request.user, _("decide on proposals of new taxa"))
    return get_object_or_404(TaxonProposal, pk=pk)


NEW_TAXON_FIELDS = ("name_en", "name_fr", "scientific_name", "parent")


class TaxonProposalAcceptApi(APIView):
    parser_classes = [JSONParser, FormParser]
    body_serializer = ProposalAcceptSerializer
    response_serializer = ProposalAcceptedSerializer

    def post(self, request: Request, pk: int) -> Response:
        """Accept a proposal (coordinators): each of its frames gets the taxon, existing
        or created."""
        proposal = _proposal_of(request, pk)
        serializer = ProposalAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = taxon_proposal_accept(
            proposal_id=proposal.pk,
            user=request.user,
            note=data["note"],
            taxon=taxon_resolve(data["taxon"]) if data.get("taxon") else None,
            new_taxon={name: data[name] for name in NEW_TAXON_FIELDS if name in data},
        )
        accepted = ProposalAcceptedSerializer(outcome.proposal, context={"outcome": outcome})
        return Response(accepted.data, status=status.HTTP_201_CREATED)


class TaxonProposalDeclineApi(APIView):
    parser_classes = [JSONParser, FormParser]
    body_serializer = ProposalDeclineSerializer
    response_serializer = TaxonProposalSerializer

    def post(self, request: Request, pk: int) -> Response:
        """Decline a proposal (coordinators): its task goes back to its queue."""
        proposal = _proposal_of(request, pk)
        serializer = ProposalDeclineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposal = taxon_proposal_decline(
            proposal_id=proposal.pk, user=request.user, **serializer.validated_data
        )
        return Response(TaxonProposalSerializer(proposal).data)
