from django.contrib import admin

from faune_platform.admin import ReadOnlyAdmin
from inference.models import ModelStatusChange, ModelVersion, PrelabelRun


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions are registered by commands and rounds, and change status on the Models page
    (promotion is atomic, logged and re-predicts): here they are read."""

    list_display = ["name", "version", "status", "head_kind", "created_at"]
    list_filter = ["status", "head_kind"]


@admin.register(ModelStatusChange)
class ModelStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "version", "from_status", "to_status", "changed_by", "note"]


@admin.register(PrelabelRun)
class PrelabelRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "version", "batch", "status", "done", "total", "created_at"]
    list_filter = ["status"]
