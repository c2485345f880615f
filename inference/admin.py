from django.contrib import admin

from inference.models import ModelVersion, PrelabelRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Status changes go through the Models page (promotion is atomic and re-predicts); here they are read."""

    list_display = ["name", "version", "status", "head_kind", "created_at"]
    list_filter = ["status", "head_kind"]
    readonly_fields = [field.name for field in ModelVersion._meta.fields]


@admin.register(PrelabelRun)
class PrelabelRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "version", "batch", "status", "done", "total", "created_at"]
    list_filter = ["status"]
