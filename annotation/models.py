"""The labelled pool: who contributes, where cameras stand, what they saw and every label
ever given."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from faune_platform.boxes import Box, Category
from faune_platform.jobs import Job


class Role(models.TextChoices):
    PARTNER = "partner", _("partner")
    EXPERT = "expert", _("expert")
    COORDINATOR = "coordinator", _("coordinator")


class Organisation(models.Model):
    """A partner: a lab, a park, a federation."""

    name = models.CharField(max_length=200, unique=True)
    sequence_maxlag_s = models.FloatField(
        default=20.0,
        help_text="A gap longer than this between two frames of a camera starts a new sequence.",
    )
    undefined_threshold = models.FloatField(
        default=0.8,
        help_text=(
            "A sequence whose top score is under this reads 'undefined' (its top class is kept)."
        ),
    )
    check_corrections_below = models.FloatField(
        default=0.5,
        help_text=(
            "A partner's correction of a pre-label whose model score is under this goes to an "
            "expert for a check (0: never)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sequence_maxlag_s__gte=0), name="maxlag_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(undefined_threshold__gte=0, undefined_threshold__lte=1),
                name="threshold_is_a_probability",
            ),
            models.CheckConstraint(
                condition=Q(check_corrections_below__gte=0, check_corrections_below__lte=1),
                name="correction_check_is_a_probability",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TaxonKind(models.TextChoices):
    """The detector-level category a taxon belongs to: `faune_platform.boxes.Category`, with labels
    to show."""

    ANIMAL = Category.ANIMAL.value, _("animal")
    HUMAN = Category.HUMAN.value, _("human")
    VEHICLE = Category.VEHICLE.value, _("vehicle")
    EMPTY = Category.EMPTY.value, _("empty")


class Taxon(models.Model):
    """A node of the class tree: a species, a higher taxon, or a detector-level category."""

    slug = models.SlugField(max_length=80, unique=True)
    name_en = models.CharField(max_length=120)
    name_fr = models.CharField(max_length=120)
    scientific_name = models.CharField(max_length=160, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(max_length=10, choices=TaxonKind.choices, default=TaxonKind.ANIMAL)
    deepfaune_order = models.PositiveSmallIntegerField(
        null=True, blank=True, unique=True, help_text="Position in DeepFaune's original class list."
    )
    aliases = models.JSONField(
        default=list, blank=True, help_text="Other common names matched on import."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [models.F("deepfaune_order").asc(nulls_last=True), "name_en"]
        verbose_name_plural = "taxa"

    def __str__(self) -> str:
        return self.name_en


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.PARTNER)
    review_taxa = models.ManyToManyField(
        Taxon, blank=True, help_text="Experts: the taxa whose queues they work."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.organisation}"


class Deployment(models.Model):
    """A camera at a site for a period."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="deployments"
    )
    name = models.CharField(max_length=200)
    location_name = models.CharField(
        max_length=200, blank=True, help_text="The site as field teams call it."
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    camera_id = models.CharField(
        max_length=100, blank=True, help_text="The serial or inventory number of the camera."
    )
    start = models.DateTimeField(null=True, blank=True, help_text="When the camera was set up.")
    end = models.DateTimeField(null=True, blank=True, help_text="When the camera was picked up.")
    habitat = models.TextField(
        blank=True, help_text="Habitat and set-up notes (height, bait, direction)."
    )
    clock_offset_s = models.IntegerField(
        default=0,
        help_text=(
            "Seconds added to the camera's clock to get true time (fixes a wrong camera clock)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="deployment_name_unique_per_org"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BatchKind(models.TextChoices):
    UPLOAD = "upload", _("upload")
    IMPORT = "import", _("import")


class BatchStatus(models.TextChoices):
    OPEN = (
        "open",
        _("still open"),
    )  # not plain "open": the catalogues have it as a verb (a link that opens)
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class UploadBatch(Job):
    """One upload session or import: the unit whose progress and per-file report a partner follows.
    An import runs as a job (the job fields); an upload's status is `open` while files arrive."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="batches")
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.PROTECT)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=8, choices=BatchKind.choices, default=BatchKind.UPLOAD)
    source_name = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.OPEN)
    total = models.PositiveIntegerField(
        default=0, help_text="Files expected, when known in advance."
    )
    class_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="For imports: each source class and the taxon slug it was mapped to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "upload batches"

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.organisation})"


class Sequence(models.Model):
    """Frames of one camera close in time (or of one upload folder when no camera is known)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="sequences"
    )
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.PROTECT)
    batch = models.ForeignKey(UploadBatch, null=True, blank=True, on_delete=models.PROTECT)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="Sequence id given by an import."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "pk"]
        indexes = [
            models.Index(fields=["deployment", "start"]),
            models.Index(fields=["batch", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(deployment__isnull=False) | Q(batch__isnull=False),
                name="sequence_has_scope",
            ),
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__gte=models.F("start")),
                name="sequence_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"sequence {self.pk}"


class MediaKind(models.TextChoices):
    IMAGE = "image", _("image")
    VIDEO = "video", _("video")


class Image(models.Model):
    """One stored photograph or video clip. Videos are kept as media of kind video and
    classified later."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="images")
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="images"
    )
    batch = models.ForeignKey(UploadBatch, on_delete=models.PROTECT, related_name="images")
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="images")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=5, choices=MediaKind.choices, default=MediaKind.IMAGE)
    file = models.FileField(max_length=300)
    thumbnail = models.FileField(max_length=300, blank=True)
    original_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    exif_datetime = models.CharField(
        max_length=32, blank=True, help_text="DateTimeOriginal as the camera wrote it."
    )
    taken_at = models.DateTimeField(
        null=True, blank=True, help_text="Camera time corrected by the clock offset."
    )
    date_note = models.CharField(
        max_length=300, blank=True, help_text="Why the camera's date was not used."
    )
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    # The winning label event (see SOURCE_RANK), kept by the annotation services in the same
    # transaction as every label event and merge, so that lists, counts and access rules read a
    # column instead of ranking events.
    current_label = models.ForeignKey(
        "Annotation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_taxon = models.ForeignKey(
        "Taxon", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    current_source = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["deployment", "taken_at"]),
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(fields=["sha256"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "sha256"], name="image_bytes_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class LabelSource(models.TextChoices):
    PARTNER = "partner", _("partner")
    EXPERT = "expert", _("expert")
    IMPORT = "import", _("import")
    MODEL_ACCEPTED = "model_accepted", _("model accepted")
    UNDO = "undo", _("undo")  # withdraws the label event it `undoes`; it is no label itself


class LifeStage(models.TextChoices):  # Camtrap DP observations: lifeStage
    ADULT = "adult", _("adult")
    SUBADULT = "subadult", _("subadult")
    JUVENILE = "juvenile", _("juvenile")


class Sex(models.TextChoices):  # Camtrap DP observations: sex
    FEMALE = "female", _("female")
    MALE = "male", _("male")


# Which label wins when several exist: expert over partner over import; newest first within a rank.
SOURCE_RANK = {
    LabelSource.EXPERT: 3,
    LabelSource.PARTNER: 2,
    LabelSource.MODEL_ACCEPTED: 2,
    LabelSource.IMPORT: 1,
}


class DecisionKind(models.TextChoices):
    VERDICT = "verdict", _("review verdict")
    LABEL = "label", _("label")
    ACCEPT = "accept", _("accepted pre-labels")
    RESOLVE = "resolve", _("conflict resolved")
    PROPOSAL = "proposal", _("new taxon proposed")
    PROPOSAL_ACCEPT = "proposal_accept", _("new taxon accepted")
    UNDO = "undo", _("undo")


class Decision(models.Model):
    """What one person decided in one go (a review verdict, a label, accepted pre-labels): the label
    events it wrote point here, so that it can be undone as a whole. An undo is itself a decision
    (`undoes`), whose label events withdraw those of the decision it takes back: nothing is edited
    or deleted."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    summary = models.CharField(max_length=300, help_text="What was saved, as the person was told.")
    task = models.ForeignKey(
        "ReviewTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task_before = models.JSONField(
        default=dict,
        blank=True,
        help_text="The task's fields before this decision, which an undo restores.",
    )
    task_after = models.JSONField(
        default=dict,
        blank=True,
        help_text="The task's fields after it: an undo checks nothing moved the task since.",
    )
    verdict = models.JSONField(
        null=True, blank=True, help_text="The review verdict given (kept after an undo)."
    )
    undoes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="undone_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}: {self.summary}"


class Annotation(models.Model):
    """One label event, never edited: the current label of an image is derived from all of them. An
    undo adds an event of source `undo` that `undoes` another: both then stop counting."""

    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    # PROTECT: a merge moves a sequence's labels before deleting it; nothing may delete them
    # with it.
    sequence = models.ForeignKey(
        Sequence, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations"
    )
    taxon = models.ForeignKey(Taxon, on_delete=models.PROTECT, related_name="annotations")
    box_x = models.FloatField(null=True, blank=True)
    box_y = models.FloatField(null=True, blank=True)
    box_w = models.FloatField(null=True, blank=True)
    box_h = models.FloatField(null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    life_stage = models.CharField(max_length=10, choices=LifeStage.choices, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    behavior = models.CharField(
        max_length=500, blank=True, help_text="What the animal does (Camtrap DP behavior)."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    source = models.CharField(max_length=16, choices=LabelSource.choices)
    batch = models.ForeignKey(UploadBatch, null=True, blank=True, on_delete=models.SET_NULL)
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations"
    )
    # One undo per event, enforced here: two people undoing at once cannot both withdraw it.
    undoes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="undone_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source="undo", undoes__isnull=False)
                | (~Q(source="undo") & Q(undoes__isnull=True)),
                name="undo_events_undo_an_event",
            ),
            models.CheckConstraint(
                condition=(Q(image__isnull=False) & Q(sequence__isnull=True))
                | (Q(image__isnull=True) & Q(sequence__isnull=False)),
                name="annotation_targets_image_or_sequence",
            ),
            models.CheckConstraint(
                condition=Q(
                    box_x__isnull=True, box_y__isnull=True, box_w__isnull=True, box_h__isnull=True
                )
                | Q(
                    box_x__gte=0,
                    box_y__gte=0,
                    box_w__gt=0,
                    box_h__gt=0,
                    box_x__lte=1,
                    box_y__lte=1,
                    box_w__lte=1,
                    box_h__lte=1,
                ),
                name="box_normalised_or_absent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.taxon_id} on {'sequence' if self.sequence_id else 'image'} ({self.source})"

    @property
    def has_box(self) -> bool:
        return self.box_w is not None

    @property
    def box(self) -> Box | None:
        """The box drawn or imported with this label, if any."""
        return Box.from_columns(self.box_x, self.box_y, self.box_w, self.box_h)


class BatchOutcome(models.TextChoices):
    IMPORTED = "imported", _("imported")
    DUPLICATE = "duplicate", _("duplicate")
    REJECTED = "rejected", _("rejected")


class BatchItem(models.Model):
    """What became of one file of a batch: the per-file report partners read."""

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=500)
    outcome = models.CharField(max_length=10, choices=BatchOutcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL)
    labelled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["batch", "outcome"])]

    def __str__(self) -> str:
        return f"{self.name}: {self.outcome}"


class ReviewState(models.TextChoices):
    # Words of their own, unlike a batch's "still open" and "done": French tells a task's state from
    # a batch's.
    OPEN = "open", _("waiting for review")
    DONE = "done", _("review done")
    SKIPPED = "skipped", _("skipped")
    CONFLICT = "conflict", _("conflict")  # two experts disagreed: waits for a coordinator
    MERGED = (
        "merged",
        _("merged"),
    )  # its sequence merged into one that already waited; nobody had worked on it
    PROPOSED = (
        "proposed",
        _("proposed"),
    )  # an expert proposed a taxon not in the list: waits for a coordinator


WAITING = (
    ReviewState.OPEN,
    ReviewState.CONFLICT,
    ReviewState.PROPOSED,
)  # such a sequence gets no second task


class ReviewTask(models.Model):
    """An item of an expert review queue: a sequence (shown through one of its frames) chosen for
    labelling. `queue_taxon` is the predicted taxon whose experts see it; empty means the triage
    queue any expert takes.

    A sequence gets one waiting task at a time. When a late frame merges two sequences, their tasks
    (verdicts, claims and conflicts with them) move to the surviving sequence: `opened_for` keeps
    the sequence each was opened for, so two tasks that were waiting before the merge may wait side
    by side after it."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="review_tasks")
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="review_tasks")
    opened_for = models.BigIntegerField(
        help_text="The sequence this task was opened for (it may since have "
        "merged into `sequence`)."
    )
    queue_taxon = models.ForeignKey(Taxon, null=True, blank=True, on_delete=models.PROTECT)
    reason = models.CharField(
        max_length=200, help_text="The English of `reason_words` (all that older tasks have)."
    )
    reason_words = models.JSONField(
        default=list,
        blank=True,
        help_text="Why the task waits, as [catalogue message, values] parts, translated when "
        "shown (annotation.services.reasons).",
    )
    score = models.FloatField(default=0.0)
    origin = models.CharField(
        max_length=60, blank=True, help_text="What created it, e.g. 'selection:12'."
    )
    checks_label = models.ForeignKey(
        "Annotation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The label this task checks (a partner's correction): shown first.",
    )
    state = models.CharField(max_length=8, choices=ReviewState.choices, default=ReviewState.OPEN)
    reviews_needed = models.PositiveSmallIntegerField(
        default=1,
        help_text="2 for the fraction of tasks reviewed twice, blind, to measure agreement.",
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The coordinator who settled a conflict.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Not a column: the services that act on a task hand it back with the decision an undo takes
    # back (`review_verdict_submit`, `review_conflict_resolve`).
    decision: Decision

    class Meta:
        ordering = ["-score", "pk"]
        indexes = [models.Index(fields=["queue_taxon", "state", "-score"])]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "opened_for"],
                condition=Q(state__in=WAITING),
                name="one_open_review_per_sequence",
            )
        ]

    def __str__(self) -> str:
        return f"review of sequence {self.sequence_id} ({self.state})"


class VerdictKind(models.TextChoices):
    LABEL = "label", _("label")
    UNSURE = (
        "unsure",
        _("unsure"),
    )  # the expert cannot tell: the task goes to triage for someone else
    SKIP = "skip", _("skip")  # not now: the task stays where it is for someone else


class ReviewVerdict(models.Model):
    """What one expert said about one task. Labels are written to the pool when the task has all the
    verdicts it needs and they agree, so the first of two blind reviewers never sees (or is
    overwritten by) the second."""

    task = models.ForeignKey(ReviewTask, on_delete=models.CASCADE, related_name="verdicts")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=8, choices=VerdictKind.choices)
    frames = models.JSONField(
        default=dict, blank=True, help_text="{frame image id: taxon id} for a label."
    )
    boxes = models.JSONField(
        default=list,
        blank=True,
        help_text="[{frame, x, y, w, h, taxon}] drawn or fixed by the expert (taxon: null for "
        "the frame's own).",
    )
    observations = models.JSONField(
        default=list,
        blank=True,
        help_text="[{taxon, count, life_stage, sex, behavior}]: how many of each taxon "
        "and what they were like.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["task", "expert"], name="one_verdict_per_expert")
        ]

    def __str__(self) -> str:
        return f"{self.kind} on task {self.task_id}"

    def agrees_with(self, other: "ReviewVerdict") -> bool:
        """Same taxon on every frame both experts saw (after a sequence merge the later one saw
        more frames)."""
        return all(
            self.frames[frame] == other.frames[frame]
            for frame in self.frames.keys() & other.frames.keys()
        )


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    WITHDRAWN = "withdrawn", _("withdrawn")  # its author undid it


class TaxonProposal(models.Model):
    """'A species not in the list': an expert names it, with the frames that show it; a coordinator
    accepts it (creating the taxon, or naming the existing one meant), which labels the frames, or
    declines it."""

    name = models.CharField(max_length=120)
    scientific_name = models.CharField(max_length=160, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        ReviewTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    frames = models.ManyToManyField(Image, related_name="taxon_proposals")
    labels_stamp = models.BigIntegerField(
        default=0,
        help_text="The newest label event on the frames when proposed: "
        "a frame labelled since is left alone.",
    )
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    taxon = models.ForeignKey(
        Taxon,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The taxon it was accepted as.",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(
        max_length=500, blank=True, help_text="The coordinator's word to the expert."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Not a column: `taxon_proposal_create` hands the proposal back with the decision an undo
    # takes back.
    decision: Decision

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class UploadUsage(models.Model):
    """What an organisation sent in one day (UTC), counted as received, against its daily
    upload allowance."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="upload_usage"
    )
    day = models.DateField()
    files = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "day"], name="upload_usage_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} on {self.day}: {self.files} files, {self.bytes} bytes"
