from django import forms
from django.contrib import admin

from annotation.models import (
    Annotation,
    BatchItem,
    Deployment,
    Image,
    Membership,
    Organisation,
    Sequence,
    Taxon,
    UploadBatch,
)
from annotation.services.organisations import MAX_CLOCK_OFFSET_S, deployment_clock_offset_set


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    filter_horizontal = ["review_taxa"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "sequence_maxlag_s", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    filter_horizontal = ["review_taxa"]


@admin.register(Taxon)
class TaxonAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_fr", "scientific_name", "parent", "kind", "deepfaune_order"]
    search_fields = ["name_en", "name_fr", "scientific_name", "slug"]
    list_filter = ["kind"]


class DeploymentAdminForm(forms.ModelForm):
    # The model field takes any 64-bit number on SQLite; the service refuses past this bound, so the form too.
    clock_offset_s = forms.IntegerField(
        min_value=-MAX_CLOCK_OFFSET_S, max_value=MAX_CLOCK_OFFSET_S, initial=0,
        help_text=Deployment._meta.get_field("clock_offset_s").help_text)

    class Meta:
        model = Deployment
        fields = ["organisation", "name", "latitude", "longitude", "camera_make", "camera_model", "start",
                  "end", "clock_offset_s"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    form = DeploymentAdminForm
    list_display = ["name", "organisation", "latitude", "longitude", "camera_model", "clock_offset_s"]
    list_filter = ["organisation"]
    search_fields = ["name"]

    def save_model(self, request, obj: Deployment, form, change: bool) -> None:
        """A corrected camera clock must move the images' dates too, which the service does."""
        wanted = obj.clock_offset_s
        if change and "clock_offset_s" in form.changed_data:
            obj.clock_offset_s = form.initial["clock_offset_s"]
            super().save_model(request, obj, form, change)
            deployment_clock_offset_set(deployment=obj, clock_offset_s=wanted)
            obj.clock_offset_s = wanted
        else:
            super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Label events and contributed media are history: the admin shows them but never edits them."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "organisation", "deployment", "kind", "taken_at", "created_at"]
    list_filter = ["organisation", "kind"]
    search_fields = ["original_name", "sha256"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "image", "sequence", "taxon", "source", "role", "author", "created_at"]
    list_filter = ["source", "role"]


@admin.register(Sequence)
class SequenceAdmin(ReadOnlyAdmin):
    list_display = ["pk", "organisation", "deployment", "start", "end", "external_id"]


@admin.register(UploadBatch)
class UploadBatchAdmin(ReadOnlyAdmin):
    list_display = ["pk", "organisation", "kind", "status", "source_name", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(BatchItem)
class BatchItemAdmin(ReadOnlyAdmin):
    list_display = ["batch", "name", "outcome", "reason"]
    list_filter = ["outcome"]
