from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

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
from annotation.services.organisations import (
    MAX_CLOCK_OFFSET_S,
    deployment_clock_offset_set,
    membership_remove,
    membership_set,
)
from faune_platform.admin import ReadOnlyAdmin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    filter_horizontal = ["review_taxa"]


def _membership_save(form: forms.ModelForm, organisation: Organisation | None = None) -> Membership:
    """A membership form saved through the one service that changes memberships (never the form's
    own save)."""
    data, before = form.cleaned_data, form.instance
    organisation = organisation or data["organisation"]
    if before.pk and (
        before.user_id != data["user"].pk or before.organisation_id != organisation.pk
    ):
        old = Membership.objects.get(pk=before.pk)
        membership_remove(user=old.user, organisation=old.organisation)
    return membership_set(
        user=data["user"],
        organisation=organisation,
        role=data["role"],
        review_taxa=list(data.get("review_taxa") or []),
    )


def _admin_refusal(request: HttpRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "sequence_maxlag_s", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = (
            [],
            [],
            [],
        )  # the admin's log reads them
        for member in formset.forms:
            data = getattr(member, "cleaned_data", None)
            if not data or not (member.has_changed() or data.get("DELETE")):
                continue
            try:
                if data.get("DELETE") and member.instance.pk:
                    membership_remove(user=member.instance.user, organisation=form.instance)
                    formset.deleted_objects.append(member.instance)
                elif not data.get("DELETE"):
                    saved = _membership_save(member, form.instance)
                    formset.changed_objects.append((saved, member.changed_data))
            except ValidationError as error:
                _admin_refusal(request, error)
        return None


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    filter_horizontal = ["review_taxa"]

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        try:
            obj.pk = _membership_save(form).pk
        except ValidationError as error:
            _admin_refusal(request, error)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The service already set the review taxa."""

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        try:
            membership_remove(user=obj.user, organisation=obj.organisation)
        except ValidationError as error:
            _admin_refusal(request, error)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for membership in queryset.select_related("user", "organisation"):
            self.delete_model(request, membership)


@admin.register(Taxon)
class TaxonAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_fr", "scientific_name", "parent", "kind", "deepfaune_order"]
    search_fields = ["name_en", "name_fr", "scientific_name", "slug"]
    list_filter = ["kind"]


class DeploymentAdminForm(forms.ModelForm):
    # The model field takes any 64-bit number on SQLite; the service refuses past this bound, so the
    # form too.
    clock_offset_s = forms.IntegerField(
        min_value=-MAX_CLOCK_OFFSET_S,
        max_value=MAX_CLOCK_OFFSET_S,
        initial=0,
        help_text=Deployment._meta.get_field("clock_offset_s").help_text,
    )

    class Meta:
        model = Deployment
        fields = [
            "organisation",
            "name",
            "latitude",
            "longitude",
            "camera_make",
            "camera_model",
            "start",
            "end",
            "clock_offset_s",
        ]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    form = DeploymentAdminForm
    list_display = [
        "name",
        "organisation",
        "latitude",
        "longitude",
        "camera_model",
        "clock_offset_s",
    ]
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


SITE_ADMIN_FIELDS = {"is_staff", "is_superuser", "groups", "user_permissions"}


class FauneUserAdmin(UserAdmin):
    """Coordinators add and edit accounts; only site admins see, change or grant site-admin rights
    (a coordinator who could would keep them after losing the role)."""

    def get_fieldsets(
        self, request: HttpRequest, obj=None
    ) -> Iterable[tuple[str | None, dict[str, Any]]]:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (
                name,
                {**options, "fields": [f for f in options["fields"] if f not in SITE_ADMIN_FIELDS]},
            )
            for name, options in fieldsets
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        users = super().get_queryset(request)
        return users if request.user.is_superuser else users.filter(is_superuser=False)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), FauneUserAdmin)
