from django.contrib import admin

from annotation.admin import ReadOnlyAdmin
from training.models import Release, TrainingRound


@admin.register(TrainingRound)
class TrainingRoundAdmin(admin.ModelAdmin):
    list_display = ["pk", "status", "created_by", "candidate", "created_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in TrainingRound._meta.fields]


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    """Releases are immutable: the admin shows them and changes nothing."""

    list_display = ["semver", "version", "created_by", "created_at"]
