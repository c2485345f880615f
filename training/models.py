"""Retraining rounds: what each one learned from, how it went, and the candidate it produced."""

from django.conf import settings
from django.db import models

from faune_platform.jobs import Job, JobStatus
from inference.models import ModelVersion

RoundStatus = (
    JobStatus  # a round is one long job: it is claimed once and keeps `updated_at` as its heartbeat
)


class TrainingRound(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(
        max_length=10, choices=RoundStatus.choices, default=RoundStatus.QUEUED
    )
    # True while queued or running, NULL afterwards: the unique constraint lets only one round
    # be active.
    active = models.BooleanField(null=True, default=True)
    params = models.JSONField(default=dict, blank=True)
    seed = models.IntegerField(default=0)
    parent = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    candidate = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="rounds"
    )
    snapshot_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField(
        default=dict, blank=True, help_text="Label ids used (as a hash and a file), counts."
    )
    metrics = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0)
    log = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(
        auto_now=True, help_text="Heartbeat: every log line updates it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["active"], name="one_active_round")]

    def __str__(self) -> str:
        return f"round {self.pk} ({self.status})"


class Release(models.Model):
    """A published production version: an immutable bundle of files, each with its sha256."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="releases")
    semver = models.CharField(max_length=20, unique=True)
    files = models.JSONField(default=dict, help_text="file name -> sha256")
    changelog = models.JSONField(default=dict, blank=True)
    model_card = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Faune {self.semver}"


class ReleaseRequest(Job):
    """A coordinator's request to publish the production version: the bundle is written by a job
    (loading a checkpoint that may weigh gigabytes), each attempt in a staging folder of its own,
    and the Release row exists only once the folder is complete."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="release_requests"
    )
    semver = models.CharField(max_length=20)
    progress = models.FloatField(default=0.0)
    release = models.OneToOneField(
        Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Two requests sent at once (a double click) both pass the check for one in progress: the
        # database keeps the second out. A new request is queued, so one queued at a time is one
        # active at a time (the check refuses a request while another runs).
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_release_request",
            )
        ]

    def __str__(self) -> str:
        return f"publish {self.semver} ({self.status})"
