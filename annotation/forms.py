from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from annotation.ingest.layouts import FORMATS
from annotation.models import Role, Taxon, TaxonKind
from faune_platform.converters import MAX_ID

# Bounds of numbers people type: past them a value is a slip (or an attack), never a count or a gap.
MAX_LABEL_COUNT = 10_000  # more animals than any camera frame shows
MAX_MAXLAG_S = 86_400.0  # frames a day apart are separate visits, not one sequence


class LabelForm(forms.Form):
    taxon = forms.ModelChoiceField(queryset=Taxon.objects.all(), empty_label="— choose a taxon —")
    whole_sequence = forms.BooleanField(required=False, label="Apply to the whole sequence")
    count = forms.IntegerField(min_value=1, max_value=MAX_LABEL_COUNT, required=False)
    expected_current = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False,
                                          widget=forms.HiddenInput)


class ImportForm(forms.Form):
    archive = forms.FileField(help_text="A .zip of the folder: one sub-folder per class, or a COCO Camera Traps "
                                        "JSON beside the images, or plain media.")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="auto")
    organisation = forms.TypedChoiceField(coerce=int)
    deployment_name = forms.CharField(required=False, help_text="Leave empty: one deployment per folder.")
    maxlag = forms.FloatField(min_value=0, max_value=MAX_MAXLAG_S, required=False,
                              help_text="Seconds; empty = organisation default.")
    create_taxa = forms.BooleanField(required=False, help_text="Coordinators: create taxa for unknown classes.")


class TaxonForm(forms.Form):
    name_en = forms.CharField(max_length=120, label="English name")
    name_fr = forms.CharField(max_length=120, label="French name")
    scientific_name = forms.CharField(max_length=160, required=False)
    parent = forms.ModelChoiceField(queryset=Taxon.objects.all(), required=False)
    kind = forms.ChoiceField(choices=TaxonKind.choices, initial=TaxonKind.ANIMAL)


class ConflictResolveForm(forms.Form):
    """A coordinator's answer to a review conflict: which task, and the taxon the sequence shows."""

    task = forms.IntegerField(min_value=1, max_value=MAX_ID)
    taxon = forms.ModelChoiceField(queryset=Taxon.objects.all(),
                                   error_messages={"required": "Choose the taxon the sequence shows."})
    expected_current = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False,
                                          widget=forms.HiddenInput)  # the sequence's labels as the page showed them


class MembershipForm(forms.Form):
    """Add a member to an organisation, or change a member's role and review taxa (the members page)."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)
    review_taxa = forms.ModelMultipleChoiceField(queryset=Taxon.objects.all(), required=False,
                                                 help_text="Experts: the taxa whose queues they work.")
    remove = forms.BooleanField(required=False)

    def clean_username(self) -> User:
        user = User.objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError("No account has this name; create it in the admin first.")
        return user


class ProposalDecisionForm(forms.Form):
    """A coordinator's answer to a proposed taxon: create it (`new`, names editable), map it to an existing one
    (`map`), or decline it; `note` is the word to the expert."""

    proposal = forms.IntegerField(min_value=1, max_value=MAX_ID)
    action = forms.ChoiceField(choices=[("new", "new"), ("map", "map"), ("decline", "decline")])
    taxon = forms.ModelChoiceField(queryset=Taxon.objects.all(), required=False)
    name_en = forms.CharField(max_length=120, required=False)
    name_fr = forms.CharField(max_length=120, required=False)
    scientific_name = forms.CharField(max_length=160, required=False)
    parent = forms.ModelChoiceField(queryset=Taxon.objects.all(), required=False)
    note = forms.CharField(max_length=500, required=False)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") == "map" and not data.get("taxon"):
            raise forms.ValidationError(_("Choose the existing taxon this proposal names."))
        data["new_taxon"] = {name: data[name] for name in ("name_en", "name_fr", "scientific_name", "parent")
                             if data.get(name)}
        return data
