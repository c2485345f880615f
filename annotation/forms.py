from django import forms
from django.contrib.auth.models import User
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from annotation.browse import SOURCE_CHOICES, Browse
from annotation.ingest.layouts import FORMATS
from annotation.models import Role, Taxon, TaxonKind
from annotation.taxon_names import taxa_in_reading_order, taxon_name
from faune_platform.converters import MAX_ID, id_or_none

# Bounds of numbers people type: past them a value is a slip (or an attack), never a count or a gap.
MAX_LABEL_COUNT = 10_000  # more animals than any camera frame shows
MAX_MAXLAG_S = 86_400.0  # frames a day apart are separate visits, not one sequence


class _TaxaInReadingOrder(ModelChoiceIterator):
    """A taxon select's options sorted by name in the reader's language, worked out when the form renders (so in
    the request's language, not the one of the process that imported this module)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for taxon in taxa_in_reading_order(self.queryset):
            yield self.choice(taxon)


class TaxonChoiceField(forms.ModelChoiceField):
    iterator = _TaxaInReadingOrder

    def label_from_instance(self, obj: Taxon) -> str:
        return taxon_name(obj)


class TaxonMultipleChoiceField(forms.ModelMultipleChoiceField):
    iterator = _TaxaInReadingOrder

    def label_from_instance(self, obj: Taxon) -> str:
        return taxon_name(obj)


class LabelForm(forms.Form):
    taxon = TaxonChoiceField(queryset=Taxon.objects.all(), empty_label="— choose a taxon —")
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
    parent = TaxonChoiceField(queryset=Taxon.objects.all(), required=False)
    kind = forms.ChoiceField(choices=TaxonKind.choices, initial=TaxonKind.ANIMAL)


class ConflictResolveForm(forms.Form):
    """A coordinator's answer to a review conflict: which task, and the taxon the sequence shows."""

    task = forms.IntegerField(min_value=1, max_value=MAX_ID)
    taxon = TaxonChoiceField(queryset=Taxon.objects.all(),
                             error_messages={"required": "Choose the taxon the sequence shows."})
    expected_current = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False,
                                          widget=forms.HiddenInput)  # the sequence's labels as the page showed them


class MembershipForm(forms.Form):
    """Add a member to an organisation, or change a member's role and review taxa (the members page)."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)
    review_taxa = TaxonMultipleChoiceField(queryset=Taxon.objects.all(), required=False,
                                           help_text="Experts: the taxa whose queues they work.")
    remove = forms.BooleanField(required=False)

    def clean_username(self) -> User:
        user = User.objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError(_("No account has this name: invite them as a new person instead."))
        return user


class ImageBrowseForm(forms.Form):
    """The image list's filters, read from the query string (the image page reads the same, to step through the
    same images). Ids that name no row are ignored, as links to a deleted camera should still open the list; a
    date that is not one, or a range that ends before it starts, is refused with a message."""

    organisation = forms.CharField(required=False)
    deployment = forms.CharField(required=False)
    batch = forms.CharField(required=False)
    taxon = forms.CharField(required=False)
    source = forms.ChoiceField(required=False, label=_("Label from"), choices=[("", _("anyone")), *SOURCE_CHOICES])
    labelled = forms.CharField(required=False)
    taken_from = forms.DateField(required=False, label=_("Taken from"))
    taken_to = forms.DateField(required=False, label=_("Taken until"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("taken_from"), data.get("taken_to")
        if start and end and end < start:
            raise forms.ValidationError(_("The date range ends (%(end)s) before it starts (%(start)s).")
                                        % {"end": end, "start": start})
        return data

    def browse(self) -> Browse:
        data = self.cleaned_data
        return Browse(
            organisation=id_or_none(data["organisation"]), deployment=id_or_none(data["deployment"]),
            batch=id_or_none(data["batch"]), taxon=id_or_none(data["taxon"]), source=data["source"],
            labelled={"yes": True, "no": False}.get(data["labelled"]),
            taken_from=data["taken_from"], taken_to=data["taken_to"])

    def messages(self) -> list[str]:
        """Each refusal as a sentence that names the field."""
        found = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            found += [f"{label}: {error}" if label else str(error) for error in errors]
        return found
