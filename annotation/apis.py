"""REST API of the labelled pool: thin views that validate, call one service or
selector, serialize."""

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import (
    BatchKind,
    BatchOutcome,
    BatchStatus,
    Deployment,
    Image,
    Organisation,
    ReviewState,
    ReviewTask,
    Taxon,
    TaxonProposal,
    UploadBatch,
    VerdictKind,
)
from annotation.outputs import (
    AgreementSerializer,
    AnnotationSavedSerializer,
    ConflictListSerializer,
    DecisionSerializer,
    ImportClassesSerializer,
    ProposalAcceptedSerializer,
    ProposalSavedSerializer,
    QueueCountSerializer,
    ReleasedSerializer,
    ResolvedSerializer,
    ReviewTaskSerializer,
    UndoneSerializer,
    UploadResultSerializer,
    VerdictSavedSerializer,
)
from annotation.permissions import require_coordinator, review_taxa_of, user_access
from annotation.selectors import (
    FRAME_ORDER,
    batch_counts,
    batches_visible_to,
    current_label,
    deployments_visible_to,
    image_editable_by,
    image_filter,
    images_visible_to,
    label_history,
    review_agreement,
    review_conflicts,
    sequence_frames,
    taxon_proposals,
    taxon_resolve,
    visible_image_or_404,
)
from annotation.serializers import (
    AnnotationCreateSerializer,
    AnnotationSerializer,
    BatchItemSerializer,
    BatchSerializer,
    ClaimSerializer,
    ClassMappingSerializer,
    DecisionQuerySerializer,
    DeploymentSerializer,
    ImageDetailSerializer,
    ImageFilterSerializer,
    ImageSerializer,
    ImportRequestSerializer,
    MembershipInputSerializer,
    MembershipSerializer,
    ProposalAcceptSerializer,
    ProposalCreateSerializer,
    ProposalDeclineSerializer,
    ProposalQuerySerializer,
    TaxonCreateSerializer,
    TaxonProposalSerializer,
    TaxonSerializer,
    UploadFilesSerializer,
    UploadSerializer,
    UploadTargetSerializer,
    VerdictSerializer,
    class_rows_data,
    review_task_data,
)
from annotation.services.annotations import Details
from annotation.services.batches import batch_add_uploads, batch_close, batch_open
from annotation.services.imports_web import (
    import_archive_accept,
    import_cancel,
    import_classes,
    import_mapping_submit,
)
from annotation.services.organisations import (
    deployment_get_or_create,
    membership_remove,
    membership_set,
)
from annotation.services.proposals import (
    taxon_proposal_accept,
    taxon_proposal_create,
    taxon_proposal_decline,
)
from annotation.services.review import (
    SECOND_OPINION,
    review_queue_counts,
    review_task_claim_next,
    review_task_unclaim,
)
from annotation.services.targets import upload_target_resolve
from annotation.services.taxa import taxon_create
from annotation.services.undo import decision_undo, decisions_undoable, label_decided
from annotation.services.upload_limits import (
    UploadSize,
    upload_allowance_check,
    upload_allowance_take,
    upload_request_check,
)
from annotation.services.verdicts import (
    DrawnBox,
    Observation,
    Verdict,
    review_conflict_resolve,
    review_verdict_submit,
)
from annotation.taxon_names import taxa_in_reading_order
from faune_platform.boxes import Box
from faune_platform.converters import id_or_none


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


def _upload_target(request: Request, data: dict) -> tuple[Organisation, Deployment | None]:
    return upload_target_resolve(
        user=request.user,
        organisation_id=data.get("organisation"),
        deployment_id=data.get("deployment"),
        deployment_name=data.get("deployment_name", ""),
    )


# Room for a multipart body's boundaries and form fields around the files themselves.
_MULTIPART_SLACK_BYTES = 1024 * 1024


def _upload_files(request: Request, *fields: str) -> list:
    """The request's files, after refusing a body over the per-request size before it is
    even parsed."""
    declared = id_or_none(request.META.get("CONTENT_LENGTH")) or 0
    if declared > settings.FAUNE["MAX_REQUEST_BYTES"] + _MULTIPART_SLACK_BYTES:
        upload_request_check(UploadSize(files=0, bytes=declared))
    return next((found for field in fields if (found := request.FILES.getlist(field))), [])


def _charge(organisation: Organisation, files: list | None) -> None:
    """Count the files against the allowances (413 for a request too large, 429 with Retry-After for
    a day's allowance, as the exception handler maps them); None: only check that today's allowance
    is not spent already."""
    if files is None:
        upload_allowance_check(organisation=organisation)
    else:
        size = UploadSize(files=len(files), bytes=sum(f.size or 0 for f in files))
        upload_allowance_take(organisation=organisation, size=size)


def _open_batch(request: Request, files: list | None = None) -> UploadBatch:
    """A new upload batch where the request says (organisation, deployment or a new deployment's
    name); `files` are counted against the upload allowances first (without files, a spent allowance
    is refused), and nothing is opened if they are refused."""
    target = UploadTargetSerializer(data=request.data)
    target.is_valid(raise_exception=True)
    with transaction.atomic():  # a refusal also takes back the new deployment the request named
        organisation, deployment = _upload_target(request, target.validated_data)
        _charge(organisation, files)
        return batch_open(organisation=organisation, deployment=deployment, uploader=request.user)


def upload_response(batch: UploadBatch, items: list) -> Response:
    """201 when something new entered the pool, 200 when all were duplicates, 400 when all
    were refused."""
    outcomes = {item.outcome for item in items}
    if BatchOutcome.IMPORTED in outcomes:
        code = status.HTTP_201_CREATED
    elif BatchOutcome.DUPLICATE in outcomes:
        code = status.HTTP_200_OK
    else:
        code = status.HTTP_400_BAD_REQUEST
    body = {"batch": batch.pk, "files": items, "counts": batch_counts(batch)}
    if code == status.HTTP_400_BAD_REQUEST:
        body["detail"] = "No file was accepted: " + "; ".join(
            f"{i.name}: {i.reason}" for i in items[:20]
        )
    return Response(UploadResultSerializer(body).data, status=code)


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
        files = _upload_files(request, "files", "file")
        if not files:
            return Response(
                {"detail": _("Send one or more files in the multipart field 'files'.")}, status=400
            )
        batch = _open_batch(request, files)
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
            accept_prediction=data["accept_prediction"],
        )
        return Response(
            AnnotationSavedSerializer(annotation, context={"saved": decision}).data,
            status=status.HTTP_201_CREATED,
        )


class BatchListApi(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    body_serializer = UploadTargetSerializer
    response_serializer = BatchSerializer

    def post(self, request: Request) -> Response:
        """Open an upload in several requests: its files follow through /api/batches/{pk}/files/."""
        batch = _open_batch(request)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)


def _visible_batch(request: Request, pk: int) -> UploadBatch:
    return get_object_or_404(batches_visible_to(request.user), pk=pk)


class BatchDetailApi(APIView):
    response_serializer = BatchSerializer

    def get(self, request: Request, pk: int) -> Response:
        """An upload or import batch and its report counts."""
        return Response(BatchSerializer(_visible_batch(request, pk)).data)


class BatchFilesApi(APIView):
    parser_classes = [MultiPartParser]
    body_serializer = UploadFilesSerializer
    response_serializer = {"get": BatchItemSerializer, "post": UploadResultSerializer}

    def get(self, request: Request, pk: int) -> Response:
        """The batch's files with their outcome (imported, duplicate, refused and why)."""
        items = _visible_batch(request, pk).items.all()[:1000]
        return Response(BatchItemSerializer(items, many=True).data)

    def post(self, request: Request, pk: int) -> Response:
        """Add files (multipart `files`) to an open upload batch."""
        batch = _visible_batch(request, pk)
        if batch.kind != BatchKind.UPLOAD or batch.status != BatchStatus.OPEN:
            return Response(
                {"detail": _("This batch no longer accepts files; open a new upload.")}, status=409
            )
        files = _upload_files(request, "files")
        if not files:
            return Response(
                {"detail": _("Send one or more files in the multipart field 'files'.")}, status=400
            )
        _charge(batch.organisation, files)
        return upload_response(batch, batch_add_uploads(batch=batch, uploads=files))


class BatchCloseApi(APIView):
    """The upload page's Done: the upload takes no more files (its pre-labelling goes on)."""

    response_serializer = BatchSerializer

    def post(self, request: Request, pk: int) -> Response:
        batch = _visible_batch(request, pk)
        if not user_access(request.user).can_contribute_to(batch.organisation_id):
            raise PermissionDenied(
                _("You are not a member of %(organisation)s.")
                % {"organisation": batch.organisation}
            )
        return Response(BatchSerializer(batch_close(batch=batch)).data)


def _import_response(batch: UploadBatch) -> Response:
    """202 once the import is queued; 201 while the batch waits for its class mapping, with the
    classes, their counts and suggestions, and what to do."""
    if batch.status != BatchStatus.OPEN:
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)
    rows = import_classes(batch)
    missing = [row.name for row in rows if row.suggestion is None or not row.suggestion.exact]
    body = {
        **BatchSerializer(batch).data,
        "classes": class_rows_data(rows),
        "detail": (
            f"{len(missing)} class name(s) need a taxon: {', '.join(missing[:30])}. Nothing is "
            f"imported until POST /api/imports/{batch.pk}/mapping/ maps them (the archive stays "
            "on the server)."
        ),
    }
    return Response(body, status=status.HTTP_201_CREATED)


class ImportApi(APIView):
    parser_classes = [MultiPartParser]
    body_serializer = ImportRequestSerializer
    response_serializer = BatchSerializer

    def post(self, request: Request) -> Response:
        """Import a labelled archive (.zip); it runs as a job, follow it at /api/batches/{pk}/."""
        _upload_files(request)  # the per-request size, before parsing
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():  # a refusal also takes back what the request would have opened
            organisation, deployment = upload_target_resolve(
                user=request.user,
                organisation_id=data.get("organisation"),
                deployment_id=data.get("deployment"),
            )
            _charge(organisation, [data["archive"]])
        name = deployment.name if deployment else data.get("deployment_name", "").strip()
        batch = import_archive_accept(  # unpacks before its own short write transactions
            archive=data["archive"],
            organisation=organisation,
            deployment_name=name,
            user=request.user,
            fmt=data["format"],
            create_taxa=data["create_taxa"],
            maxlag_s=data.get("maxlag"),
            choices=data.get("class_mapping"),
        )
        return _import_response(batch)


class ImportMappingApi(APIView):
    """An import waiting for its class mapping: read its classes, send the mapping (then it runs),
    or cancel it."""

    parser_classes = [JSONParser]
    body_serializer = ClassMappingSerializer
    response_serializer = {"get": ImportClassesSerializer, "post": BatchSerializer}
    response_is_list = False

    def get(self, request: Request, pk: int) -> Response:
        """The import's classes with their file counts and suggested taxa."""
        batch = get_object_or_404(batches_visible_to(request.user), pk=pk, kind=BatchKind.IMPORT)
        return Response(
            ImportClassesSerializer(
                {
                    "id": batch.pk,
                    "status": batch.status,
                    "class_mapping": batch.class_mapping,
                    "classes": class_rows_data(import_classes(batch)),
                }
            ).data
        )

    def post(self, request: Request, pk: int) -> Response:
        """Map every class (`class_mapping`: {class: taxon, null for no label}); the import
        then runs."""
        batch = get_object_or_404(batches_visible_to(request.user), pk=pk, kind=BatchKind.IMPORT)
        serializer = ClassMappingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch = import_mapping_submit(
            batch=batch, choices=serializer.validated_data["class_mapping"], user=request.user
        )
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    def delete(self, request: Request, pk: int) -> Response:
        """Cancel the import: nothing of it was stored."""
        import_cancel(
            batch=get_object_or_404(batches_visible_to(request.user), pk=pk, kind=BatchKind.IMPORT),
            user=request.user,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


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


def _organisation_of(request: Request, pk: int) -> Organisation:
    require_coordinator(request.user, _("manage memberships"))
    return get_object_or_404(Organisation, pk=pk)


class OrganisationMembersApi(APIView):
    """Coordinators list and set an organisation's members (role, an expert's taxa): through the one
    membership service, so a demotion takes effect on the member's next request."""

    parser_classes = [JSONParser, FormParser]
    body_serializer = MembershipInputSerializer
    response_serializer = MembershipSerializer

    def get(self, request: Request, pk: int) -> Response:
        """The organisation's members with their role and review taxa (coordinators)."""
        organisation = _organisation_of(request, pk)
        members = (
            organisation.memberships.select_related("user")
            .prefetch_related("review_taxa")
            .order_by("user__username")
        )
        return Response(MembershipSerializer(members, many=True).data)

    def post(self, request: Request, pk: int) -> Response:
        """Add a member or change their role and review taxa (coordinators)."""
        organisation = _organisation_of(request, pk)
        serializer = MembershipInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        taxa = (
            [taxon_resolve(name) for name in data["review_taxa"]] if "review_taxa" in data else None
        )
        membership = membership_set(
            user=data["username"], organisation=organisation, role=data["role"], review_taxa=taxa
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class OrganisationMemberApi(APIView):
    def delete(self, request: Request, pk: int, user_id: int) -> Response:
        """Remove a member from the organisation (coordinators)."""
        organisation = _organisation_of(request, pk)
        membership = get_object_or_404(
            organisation.memberships.select_related("user"), user_id=user_id
        )
        membership_remove(user=membership.user, organisation=organisation)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
