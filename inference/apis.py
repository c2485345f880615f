"""REST API of the inference app: predictions, similar images, bulk acceptance, the model registry,
active learning and possibly new taxa."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Image
from annotation.permissions import require_coordinator
from annotation.selectors import batches_visible_to, taxon_resolve, visible_image_or_404
from annotation.serializers import TaxonRefField
from faune_platform.api import IdField
from faune_platform.converters import MAX_ID, id_or_none
from inference.models import (
    ModelVersion,
    NoveltyScan,
    SelectionBatch,
    VersionStatus,
)
from inference.selectors import (
    batch_prelabel_progress,
    image_detections,
    novelty_cluster_members,
    novelty_cluster_rows,
    novelty_scan_latest,
    novelty_scan_shown,
    prediction_summary,
    production_version,
    similar_images,
    similar_labelled,
)
from inference.serializers import (
    AcceptedSerializer,
    ClusterLabelledSerializer,
    ClusterMemberSerializer,
    ClusterRowSerializer,
    DetectionSerializer,
    ModelVersionSerializer,
    NoveltyClusterLabelSerializer,
    NoveltyScanRequestSerializer,
    NoveltyScanSerializer,
    PredictionSummarySerializer,
    PrelabelProgressSerializer,
    SelectionBatchSerializer,
    SelectionRequestSerializer,
    SimilarByTaxonSerializer,
    SimilarImageSerializer,
    selection_batch_rows,
)
from inference.services.acceptance import prelabels_accept
from inference.services.novelty import novelty_cluster_label, novelty_scan_request
from inference.services.registry import model_version_set_status
from inference.services.selection import selection_batch_request


def _visible_image(request: Request, pk: int) -> Image:
    # with its organisation: the threshold of its predictions
    return visible_image_or_404(request.user, pk, "organisation")


class ImagePredictionApi(APIView):
    response_serializer = PredictionSummarySerializer
    response_is_list = False

    def get(self, request: Request, pk: int) -> Response:
        """The production model's pre-label of an image: top-5, box, sequence verdict,
        zero-shot flag."""
        image = _visible_image(request, pk)
        summary = prediction_summary(image)
        if summary is None:
            return Response(
                {"detail": _("Not pre-labelled yet: the worker has not reached this image.")},
                status=404,
            )
        return Response(PredictionSummarySerializer(summary).data)


class ImageDetectionsApi(APIView):
    """The detector boxes stored for an image that the pipeline trusts (the image page
    draws them)."""

    class OutputSerializer(serializers.Serializer):
        threshold = serializers.FloatField(help_text="boxes below this confidence are left out")
        detections = DetectionSerializer(many=True)

    response_serializer = OutputSerializer
    response_is_list = False

    def get(self, request: Request, pk: int) -> Response:
        """The detector boxes of an image at or above the detection threshold."""
        image = _visible_image(request, pk)
        threshold = settings.FAUNE["DETECTION_THRESHOLD"]
        rows = image_detections(image, threshold)
        return Response(self.OutputSerializer({"threshold": threshold, "detections": rows}).data)


class SimilarImagesApi(APIView):
    class InputSerializer(serializers.Serializer):
        k = serializers.IntegerField(min_value=1, max_value=100, default=12)
        taxa = serializers.CharField(
            required=False, allow_blank=True, help_text="comma-separated taxon ids"
        )

        def validate_taxa(self, value: str) -> list[int]:
            ids = [id_or_none(item) for item in value.split(",") if item.strip()]
            if None in ids:
                raise serializers.ValidationError(
                    _("Give taxon ids separated by commas, e.g. 3,7.")
                )
            return ids[:10]

    class OutputSerializer(serializers.Serializer):
        results = SimilarImageSerializer(many=True)

    class ByTaxaOutputSerializer(serializers.Serializer):
        by_taxon = SimilarByTaxonSerializer(many=True)

    query_serializer = InputSerializer
    response_serializer = OutputSerializer  # or, with `taxa`, ByTaxaOutputSerializer
    response_is_list = False

    def get(self, request: Request, pk: int) -> Response:
        """The most similar images you can see, or with `taxa` the nearest labelled images of
        each taxon."""
        image = visible_image_or_404(request.user, pk)  # its embedding is all the search needs
        query = self.InputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        k, taxa = query.validated_data["k"], query.validated_data.get("taxa")
        if taxa:  # labelled examples of each candidate taxon, for review
            grouped = similar_labelled(request.user, image, taxa, per_taxon=min(k, 12))
            rows = [{"taxon": taxon_id, "results": found} for taxon_id, found in grouped.items()]
            return Response(self.ByTaxaOutputSerializer({"by_taxon": rows}).data)
        return Response(
            self.OutputSerializer({"results": similar_images(request.user, image, k)}).data
        )


class BatchPrelabelApi(APIView):
    response_serializer = PrelabelProgressSerializer
    response_is_list = False

    def get(self, request: Request, pk: int) -> Response:
        """Pre-labelling progress of an upload batch."""
        progress = batch_prelabel_progress(
            get_object_or_404(batches_visible_to(request.user), pk=pk)
        )
        return Response(PrelabelProgressSerializer(progress).data)


class AcceptSerializer(serializers.Serializer):
    images = serializers.ListField(child=IdField(), min_length=1, max_length=1000)
    taxon = TaxonRefField(
        required=False,
        allow_blank=True,
        help_text="correct every image to this taxon instead of accepting predictions",
    )
    expected_current = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_ID),
        required=False,
        default=dict,
        help_text=(
            "{image id: id of the label you saw as current, 0 for none}: an image labelled "
            "since is left alone and listed under 'conflicts'. Without it nothing is checked: "
            "a newer label is outranked."
        ),
    )

    def validate_expected_current(self, value: dict) -> dict[int, int]:
        ids = {key: id_or_none(key) for key in value}
        if None in ids.values():
            raise serializers.ValidationError(_("Keys are image ids."))
        return {ids[key]: label for key, label in value.items()}


class PrelabelAcceptApi(APIView):
    """Accept the pre-labels of many images at once, or correct them all to one taxon."""

    body_serializer = AcceptSerializer
    response_serializer = AcceptedSerializer

    def post(self, request: Request) -> Response:
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        correction = serializer.validated_data.get("taxon")
        result = prelabels_accept(
            user=request.user,
            image_ids=serializer.validated_data["images"],
            taxon=taxon_resolve(correction) if correction else None,
            expected=serializer.validated_data["expected_current"],
        )
        if result.labelled:
            code = status.HTTP_201_CREATED
        else:
            code = status.HTTP_409_CONFLICT if result.conflicts else status.HTTP_400_BAD_REQUEST
        return Response(AcceptedSerializer(result).data, status=code)


class ModelVersionListApi(APIView):
    response_serializer = ModelVersionSerializer

    def get(self, request: Request) -> Response:
        """The model registry: every version with its status, backbone and classes."""
        versions = ModelVersion.objects.prefetch_related("classes__taxon")
        return Response(ModelVersionSerializer(versions, many=True).data)


class ModelStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=VersionStatus.choices)
    confirm_lost_classes = serializers.BooleanField(
        default=False,
        help_text="promote even though the version cannot say classes production says (409 lists "
        "them otherwise)",
    )


class ModelVersionStatusApi(APIView):
    body_serializer = ModelStatusSerializer
    response_serializer = ModelVersionSerializer

    def post(self, request: Request, pk: int) -> Response:
        """Promote, reject or archive a model version (coordinators)."""
        require_coordinator(request.user, _("change which model is in production"))
        version = get_object_or_404(ModelVersion, pk=pk)
        serializer = ModelStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = model_version_set_status(
            version=version, user=request.user, **serializer.validated_data
        )
        return Response(ModelVersionSerializer(version).data)


class SelectionBatchListApi(APIView):
    """Coordinators open active-learning batches (the pick runs as a job) and see how each one
    paid off."""

    class OutputSerializer(serializers.Serializer):
        results = SelectionBatchSerializer(many=True)

    body_serializer = SelectionRequestSerializer
    response_serializer = {"get": OutputSerializer, "post": SelectionBatchSerializer}
    response_is_list = False

    def get(self, request: Request) -> Response:
        """The latest active-learning batches and what their reviewed picks
        taught (coordinators)."""
        require_coordinator(request.user, _("see selection batches"))
        batches = list(SelectionBatch.objects.select_related("version", "created_by")[:100])
        return Response(self.OutputSerializer({"results": selection_batch_rows(batches)}).data)

    def post(self, request: Request) -> Response:
        """Open an active-learning batch; the pick runs as a job (coordinators)."""
        require_coordinator(request.user, _("open selection batches"))
        serializer = SelectionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch = selection_batch_request(
            user=request.user,
            strategy=data["strategy"],
            size=data["size"],
            filters=serializer.filters(),
            seed=data["seed"],
        )
        batch.refresh_from_db()
        return Response(
            SelectionBatchSerializer(selection_batch_rows([batch])[0]).data,
            status=status.HTTP_202_ACCEPTED,
        )


class NoveltyScanApi(APIView):
    """The latest scan for possibly new taxa (follow its progress here), and starting a new one."""

    body_serializer = NoveltyScanRequestSerializer
    response_serializer = NoveltyScanSerializer
    response_is_list = False

    def get(self, request: Request) -> Response:
        """The latest scan for possibly new taxa and its progress (coordinators)."""
        require_coordinator(request.user, _("look for possibly new taxa"))
        scan = novelty_scan_latest()
        if scan is None:
            return Response(
                {"detail": _("No scan yet: POST here to start one.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(NoveltyScanSerializer(scan).data)

    def post(self, request: Request) -> Response:
        """Start a scan for possibly new taxa; it runs as a job (coordinators)."""
        require_coordinator(request.user, _("look for possibly new taxa"))
        serializer = NoveltyScanRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scan = novelty_scan_request(user=request.user, seed=serializer.validated_data["seed"])
        scan.refresh_from_db()
        return Response(NoveltyScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)


class NoveltyClusterListApi(APIView):
    """The clusters of the latest finished scan, largest first, each with its most
    typical members."""

    class OutputSerializer(serializers.Serializer):
        scan = NoveltyScanSerializer()
        clusters = ClusterRowSerializer(many=True)

    response_serializer = OutputSerializer
    response_is_list = False

    def get(self, request: Request) -> Response:
        require_coordinator(request.user, _("look for possibly new taxa"))
        if production_version() is None:
            return Response(
                {"detail": _("No production model: scans work on its embeddings and predictions.")},
                status=status.HTTP_409_CONFLICT,
            )
        scan = novelty_scan_shown()
        if scan is None:
            return Response(
                {"detail": _("No finished scan yet: POST /api/novelty/scans/ starts one.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(
            self.OutputSerializer({"scan": scan, "clusters": novelty_cluster_rows(scan)}).data
        )


class NoveltyClusterApi(APIView):
    """Every member of one cluster, most typical first."""

    class OutputSerializer(serializers.Serializer):
        scan = serializers.IntegerField()
        number = serializers.IntegerField()
        outcome = serializers.JSONField(help_text="what labelling the cluster did, or null")
        members = ClusterMemberSerializer(many=True)

    response_serializer = OutputSerializer
    response_is_list = False

    def get(self, request: Request, pk: int, number: int) -> Response:
        require_coordinator(request.user, _("look for possibly new taxa"))
        scan = get_object_or_404(NoveltyScan, pk=pk, status="done")
        members = novelty_cluster_members(scan, number)
        if members is None:
            return Response(
                {
                    "detail": _("Scan %(id)s has no cluster %(number)s.")
                    % {"id": scan.pk, "number": number}
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        outcome = scan.clusters[number - 1]["outcome"]
        return Response(
            self.OutputSerializer(
                {"scan": scan.pk, "number": number, "outcome": outcome, "members": members}
            ).data
        )


class NoveltyClusterLabelApi(APIView):
    """Name a cluster's taxon (new or existing) and label it: its members get the label, its
    outliers go to review."""

    body_serializer = NoveltyClusterLabelSerializer
    response_serializer = ClusterLabelledSerializer

    def post(self, request: Request, pk: int, number: int) -> Response:
        require_coordinator(request.user, _("label possibly-new clusters"))
        scan = get_object_or_404(NoveltyScan, pk=pk)
        serializer = NoveltyClusterLabelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = novelty_cluster_label(
            user=request.user,
            scan=scan,
            number=number,
            taxon=serializer.chosen_taxon(),
            new_taxon=serializer.new_taxon(),
        )
        return Response(ClusterLabelledSerializer(result).data, status=status.HTTP_201_CREATED)
