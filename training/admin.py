from django.contrib import admin

from faune_platform.admin import ReadOnlyAdmin
from training.models import Release, ReleaseRequest, TrainingRound


@admin.register(TrainingRound)
class TrainingRoundAdmin(ReadOnlyAdmin):
    """Rounds start and stop on the Rounds page (one active at a time, queued for the worker)."""

    list_display = ["pk", "status", "created_by", "candidate", "created_at", "finished_at"]
    list_filter = ["status"]


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    """Releases are immutable: the admin shows them and changes nothing."""

    list_display = ["semver", "version", "created_by", "created_at"]


@admin.register(ReleaseRequest)
class ReleaseRequestAdmin(ReadOnlyAdmin):
    list_display = ["semver", "version", "status", "progress", "created_by", "created_at"]
    list_filter = ["status"]
