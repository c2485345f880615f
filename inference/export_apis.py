"""The export API: start an export (a job), follow it, find the download link (the page's download
URL serves the file, to the same session or token)."""

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.browse import SOURCE_FILTERS
from annotation.selectors import taxon_resolve
from annotation.serializers import TaxonRefField
from faune_platform.api import IdField
from inference.engine.exports.camtrapdp import SAMPLING_DESIGNS
from inference.engine.exports.deepfaune import LANGUAGES
from inference.models import ExportFormat
from inference.services.exports.jobs import export_request, export_row, exports_visible_to
from inference.services.exports.scope import ExportOptions, ExportScope


class ExportSerializer(serializers.Serializer):
    """An export (a row of `export_row`): its progress, what it holds and, once done, its
    download link."""

    id = serializers.IntegerField()
    format = serializers.CharField()
    format_label = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField(help_text="what it holds, in words")
    stage = serializers.CharField()
    error = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    progress = serializers.FloatField(help_text="0 to 1")
    scope = serializers.JSONField()
    options = serializers.JSONField()
    report = serializers.JSONField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    page_url = serializers.CharField()
    download_url = serializers.CharField(allow_null=True, help_text="null until it is done")


class ExportListApi(APIView):
    class InputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=ExportFormat.values)
        organisation = IdField(required=False, allow_null=True)
        deployments = serializers.ListField(child=IdField(), required=False, max_length=10_000)
        taxon = TaxonRefField(required=False, allow_blank=True)
        labelled = serializers.BooleanField(required=False, allow_null=True, default=None)
        source = serializers.ChoiceField(
            choices=list(SOURCE_FILTERS), required=False, allow_blank=True, default=""
        )
        batch = IdField(required=False, allow_null=True)
        taken_after = serializers.DateTimeField(required=False, allow_null=True)
        taken_before = serializers.DateTimeField(required=False, allow_null=True)
        people = serializers.ChoiceField(choices=("blur", "exclude"), default="blur")
        media = serializers.BooleanField(default=True)
        language = serializers.ChoiceField(choices=LANGUAGES, default="fr")
        utc_offset = serializers.RegexField(
            r"^(Z|[+-](0\d|1[0-4]):[0-5]\d)$", required=False, allow_blank=True, default=""
        )
        sampling_design = serializers.ChoiceField(choices=SAMPLING_DESIGNS, default="opportunistic")
        title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

        def scope(self) -> ExportScope:
            data = self.validated_data
            taxon = taxon_resolve(data["taxon"]).pk if data.get("taxon") else None
            return ExportScope(
                organisation=data.get("organisation"),
                deployments=tuple(data.get("deployments", ())),
                taxon=taxon,
                labelled=data.get("labelled"),
                batch=data.get("batch"),
                taken_after=data.get("taken_after"),
                taken_before=data.get("taken_before"),
                source=data["source"],
            )

        def options(self) -> ExportOptions:
            data = self.validated_data
            return ExportOptions(
                people=data["people"],
                media=data["media"],
                language=data["language"],
                utc_offset=data["utc_offset"],
                sampling_design=data["sampling_design"],
                title=data["title"],
            )

    class OutputSerializer(serializers.Serializer):
        results = ExportSerializer(many=True)

    body_serializer = InputSerializer
    response_serializer = {"get": OutputSerializer, "post": ExportSerializer}
    response_is_list = False

    def get(self, request: Request) -> Response:
        """Your exports (coordinators: every one), newest first, with their progress and
        download link."""
        rows = [export_row(job) for job in exports_visible_to(request.user)[:100]]
        return Response(self.OutputSerializer({"results": rows}).data)

    def post(self, request: Request) -> Response:
        """Start an export of the images you may export, in a format; it runs as a job (202)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = export_request(
            user=request.user,
            fmt=serializer.validated_data["format"],
            scope=serializer.scope(),
            options=serializer.options(),
        )
        job.refresh_from_db()
        return Response(ExportSerializer(export_row(job)).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    response_serializer = ExportSerializer

    def get(self, request: Request, pk: int) -> Response:
        """One export: its status, progress, report and, once done, its download link."""
        return Response(
            ExportSerializer(
                export_row(get_object_or_404(exports_visible_to(request.user), pk=pk))
            ).data
        )
