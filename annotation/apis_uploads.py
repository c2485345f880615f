"""REST API of uploads: upload batches, their files and closing, and dataset imports (archives
and their class mappings)."""

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import (
    BatchKind,
    BatchOutcome,
    BatchStatus,
    Deployment,
    Organisation,
    UploadBatch,
)
from annotation.outputs import (
    ImportClassesSerializer,
    UploadResultSerializer,
)
from annotation.permissions import user_access
from annotation.selectors import (
    batch_counts,
    batches_visible_to,
)
from annotation.serializers import (
    BatchItemSerializer,
    BatchSerializer,
    ClassMappingSerializer,
    ImportRequestSerializer,
    UploadFilesSerializer,
    UploadTargetSerializer,
    class_rows_data,
)
from annotation.services.batches import batch_add_uploads, batch_close, batch_open
from annotation.services.imports_web import (
    import_archive_accept,
    import_cancel,
    import_classes,
    import_mapping_submit,
)
from annotation.services.targets import upload_target_resolve
from annotation.services.upload_limits import (
    UploadSize,
    upload_allowance_check,
    upload_allowance_take,
    upload_request_check,
)
from faune_platform.converters import id_or_none

# Room for a multipart body's boundaries and form fields around the files themselves.
_MULTIPART_SLACK_BYTES = 1024 * 1024


def _upload_target(request: Request, data: dict) -> tuple[Organisation, Deployment | None]:
    return upload_target_resolve(
        user=request.user,
        organisation_id=data.get("organisation"),
        deployment_id=data.get("deployment"),
        deployment_name=data.get("deployment_name", ""),
    )


def request_files(request: Request, *fields: str) -> list:
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
        upload_allowance_take(organisation=organisation, size=UploadSize.of(files))


def batch_open_from_request(request: Request, files: list | None = None) -> UploadBatch:
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
        reasons = pgettext("between items of a list", "; ").join(
            _("%(name)s: %(reason)s") % {"name": i.name, "reason": i.reason} for i in items[:20]
        )
        body["detail"] = _("No file was accepted: %(reasons)s") % {"reasons": reasons}
    return Response(UploadResultSerializer(body).data, status=code)


class BatchListApi(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    body_serializer = UploadTargetSerializer
    response_serializer = BatchSerializer

    def post(self, request: Request) -> Response:
        """Open an upload in several requests: its files follow through /api/batches/{pk}/files/."""
        batch = batch_open_from_request(request)
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
        files = request_files(request, "files")
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
        request_files(request)  # the per-request size, before parsing
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
