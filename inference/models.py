"""Models that run: the version registry, what each version predicted, and the embeddings
it computed."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from annotation.models import Image, Sequence, Taxon, UploadBatch
from faune_platform.boxes import Box, Category
from faune_platform.jobs import Job
from inference.engine.specs import BackboneSpec


class VersionStatus(models.TextChoices):
    # labels are the values, so that a template can translate a bare value too (in this context)
    CANDIDATE = "candidate", pgettext_lazy("version status", "candidate")
    PRODUCTION = "production", pgettext_lazy("version status", "production")
    ARCHIVED = "archived", pgettext_lazy("version status", "archived")
    REJECTED = "rejected", pgettext_lazy("version status", "rejected")


class HeadKind(models.TextChoices):
    ZERO_SHOT = "zero_shot", _("zero-shot (ImageNet classes mapped onto taxa)")
    CHECKPOINT = "checkpoint", _("classifier from a checkpoint file")
    TRAINED_HEAD = "trained_head", _("head trained on frozen embeddings")


class ModelVersion(models.Model):
    name = models.CharField(max_length=120)
    version = models.CharField(max_length=40)
    backbone = models.JSONField(
        help_text="BackboneSpec: timm name, input size, interpolation, mean/std, crop."
    )
    head_kind = models.CharField(max_length=14, choices=HeadKind.choices)
    artifacts = models.JSONField(
        default=dict, blank=True, help_text="role -> {path, sha256} of each file."
    )
    detector = models.JSONField(
        default=dict, blank=True, help_text="{path, sha256, image_size} when one runs."
    )
    temperature = models.FloatField(default=1.0)
    lineage = models.JSONField(
        default=dict,
        blank=True,
        help_text="Parent version, label snapshot, seed, "
        "hyper-parameters, code version: what reproduces this version.",
    )
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.CANDIDATE
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="production"), name="one_production_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def is_zero_shot(self) -> bool:
        return self.head_kind == HeadKind.ZERO_SHOT

    @property
    def backbone_key(self) -> str:
        return BackboneSpec.from_dict(self.backbone).key


class ModelClass(models.Model):
    """The ordered class list of a version: output `index` of the classifier means `taxon`."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveIntegerField()
    taxon = models.ForeignKey(Taxon, on_delete=models.PROTECT)

    class Meta:
        ordering = ["version", "index"]
        constraints = [
            models.UniqueConstraint(fields=["version", "index"], name="class_index_unique")
        ]

    def __str__(self) -> str:
        return f"{self.version}[{self.index}] = {self.taxon}"


class BoxSource(models.TextChoices):
    DETECTOR = "detector", _("detector")
    MEGADETECTOR_JSON = "megadetector_json", _("imported MegaDetector output")
    POOL = "pool", _("box from the labelled pool")
    WHOLE_IMAGE = "whole_image", _("whole image")


class Detection(models.Model):
    """A box found on an image by a detector run or an imported MegaDetector file."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="detections")
    source = models.CharField(max_length=20, choices=BoxSource.choices)
    detector = models.CharField(
        max_length=120, blank=True, help_text="Which weights or file produced it."
    )
    category = models.CharField(max_length=8)  # a DetectorCategory
    confidence = models.FloatField()
    box_x = models.FloatField()
    box_y = models.FloatField()
    box_w = models.FloatField()
    box_h = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence"]
        indexes = [models.Index(fields=["image", "source"])]

    def __str__(self) -> str:
        return f"{self.category} {self.confidence:.2f} on {self.image_id}"

    @property
    def box(self) -> Box:
        return Box(self.box_x, self.box_y, self.box_w, self.box_h)


class Prediction(models.Model):
    """What one version said about one image (or the 12 sampled frames of one video)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    category = models.CharField(max_length=8, help_text="animal / human / vehicle / empty")
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.PROTECT)
    score = models.FloatField()
    top = models.JSONField(
        default=list, help_text="[[taxon id, probability], ...], best first, up to 5."
    )
    logits = models.BinaryField(null=True, blank=True, help_text="float16 class logits.")
    box_source = models.CharField(
        max_length=20, choices=BoxSource.choices, default=BoxSource.WHOLE_IMAGE
    )
    box = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "version"], name="one_prediction_per_version")
        ]
        indexes = [models.Index(fields=["version", "taxon", "score"])]

    def __str__(self) -> str:
        return (
            f"{self.version} on {self.image_id}: {self.taxon_id or self.category} {self.score:.2f}"
        )


class SequencePrediction(models.Model):
    """A sequence's verdict, derived from its frames' predictions. Whether it reads "undefined" is
    not stored: it follows the organisation's threshold of the day (`is_undefined`)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE)
    category = models.CharField(max_length=8)  # a Category
    taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.PROTECT)
    score = models.FloatField()
    top = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sequence", "version"], name="one_sequence_prediction")
        ]

    def __str__(self) -> str:
        return f"{self.version} on sequence {self.sequence_id}"

    def is_undefined(self, threshold: float) -> bool:
        return self.category == Category.ANIMAL and self.score < threshold


class Embedding(models.Model):
    """One vector per image per backbone, computed once and reused by every head trained on it."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="embeddings")
    backbone_key = models.CharField(max_length=160)
    vector = models.BinaryField(help_text="float16, L2-normalised.")
    norm = models.FloatField(
        default=1.0,
        help_text="The L2 norm removed from `vector`: vector x norm is the raw "
        "pooled feature that the backbone's own head sees.",
    )
    box = models.JSONField(
        null=True,
        blank=True,
        help_text="The crop it was computed on ([x, y, w, h]); null: the whole image.",
    )
    box_source = models.CharField(
        max_length=20,
        blank=True,
        help_text="Where that box came from; empty for "
        "embeddings stored before crops were recorded (never reused without one).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "backbone_key"], name="one_embedding_per_backbone"
            )
        ]
        indexes = [models.Index(fields=["backbone_key", "id"])]

    def __str__(self) -> str:
        return f"{self.backbone_key} of {self.image_id}"


class PrelabelRun(Job):
    """One pre-labelling job of a version: over an upload batch, or over the whole pool after a
    production change. It works in chunks, newest images first; `cursor` is the image id below which
    it still has to look."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="runs")
    batch = models.ForeignKey(UploadBatch, null=True, blank=True, on_delete=models.CASCADE)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["version", "batch"])]

    def __str__(self) -> str:
        return f"prelabel run {self.pk} ({self.status})"


class SelectionBatch(Job):
    """One active-learning pick: its parameters, the version whose predictions it used, and what it
    chose, so later analysis can ask which strategy paid off."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    strategy = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    filters = models.JSONField(default=dict, blank=True)
    seed = models.IntegerField(default=0)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    picked = models.JSONField(default=list, help_text="[[image id, score], ...] in pick order.")
    candidates = models.PositiveIntegerField(default=0)
    restricted = models.BooleanField(
        default=False,
        help_text="Candidates were limited to the neighbourhood of "
        "labelled images (pool too large to scan).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"selection {self.pk} ({self.strategy}, {len(self.picked)} picked)"


class ModelStatusChange(models.Model):
    """Append-only record of who put which version in which status, and why: promotions, rejections,
    roll-backs, archiving."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, choices=VersionStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.version}: {self.from_status or 'new'} -> {self.to_status}"


class NoveltyScan(Job):
    """One search for possibly new taxa over the production version's stored embeddings and
    predictions: the thresholds it read off the data, and the clusters it found, largest first. Each
    cluster is {"members": [image ids, most typical first], "typicality": [...], "outliers": [image
    ids], "outcome": null until a coordinator labels it, then who, which taxon, what was labelled
    and what was sent to review}."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    seed = models.IntegerField(default=0)
    stage = models.CharField(
        max_length=60, blank=True, help_text="What the job is doing now, for the page."
    )
    scanned = models.PositiveIntegerField(
        default=0, help_text="Unsure unlabelled images looked at."
    )
    sampled = models.BooleanField(
        default=False, help_text="More were unsure: a sample was looked at."
    )
    labelled = models.PositiveIntegerField(default=0, help_text="Labelled images compared with.")
    possibly_new = models.PositiveIntegerField(
        default=0, help_text="Far from every labelled image, unsure."
    )
    joined = models.PositiveIntegerField(default=0, help_text="Unsure, not far, joined a cluster.")
    scattered = models.PositiveIntegerField(default=0, help_text="Possibly new, but in no cluster.")
    thresholds = models.JSONField(default=dict, blank=True)
    clusters = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"novelty scan {self.pk} ({self.status}, {len(self.clusters)} clusters)"


class ExportFormat(models.TextChoices):
    CAMTRAP_DP = "camtrapdp", "Camtrap DP 1.0.2 (zip)"
    COCO = "coco", "COCO Camera Traps (JSON)"
    DEEPFAUNE_CSV = "deepfaune_csv", _("DeepFaune result table (CSV)")
    DEEPFAUNE_XLSX = "deepfaune_xlsx", _("DeepFaune result table (XLSX)")
    DEEPFAUNE_FOLDERS = "deepfaune_folders", _("images sorted into folders by class (zip)")
    MEGADETECTOR = "megadetector", _("MegaDetector batch output (JSON)")


class ExportJob(Job):
    """One export of the pool in a standard format, written in chunks under `folder` and downloaded
    when done. `scope` says which images (organisation, deployments, image filters) among those the
    requester may export; `options` how (people blurred or left out, media files or not, language,
    time offset...). Each chunk appends the rows of the next sequences after `cursor` and
    checkpoints the byte length of every file it appends to in `state`, so a chunk run again after a
    killed worker first cuts the files back to it."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    format = models.CharField(max_length=20, choices=ExportFormat.choices)
    scope = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="The production version whose predictions the export carries.",
    )
    organisations = models.JSONField(
        default=list,
        blank=True,
        help_text="Ids of the organisations whose "
        "images the export may hold: downloading it needs access to each.",
    )
    folder = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where it is written; empty: the data folder's exports/<id>/.",
    )
    stage = models.CharField(max_length=60, blank=True)
    total = models.PositiveIntegerField(default=0, help_text="Images in scope when it started.")
    done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="Sequences up to this id are written.")
    state = models.JSONField(default=dict, blank=True)
    report = models.JSONField(
        default=dict, blank=True, help_text="Counts, and the metadata found missing."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"
