from collections.abc import Iterator

from django import forms
from django.contrib.auth.models import User
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from annotation.browse import SOURCE_CHOICES, Browse
from annotation.ingest.layouts import FORMATS
from annotation.models import Role, Taxon, TaxonKind
from annotation.services.class_mapping import Choice, ClassRow, NewTaxon
from annotation.taxon_names import taxa_in_reading_order, taxon_name
from faune_platform.converters import MAX_ID, id_or_none

# Bounds of numbers people type: past them a value is a slip (or an attack), never a count or a gap.
MAX_LABEL_COUNT = 10_000  # more animals than any camera frame shows
MAX_MAXLAG_S = 86_400.0  # frames a day apart are separate visits, not one sequence


class _TaxaInReadingOrder(ModelChoiceIterator):
    """A taxon select's options sorted by name in the reader's language, worked out when the form
    renders (so in the request's language, not the one of the process that imported this module)."""

    def __iter__(self) -> Iterator[tuple[object, str]]:
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
    taxon = TaxonChoiceField(queryset=Taxon.objects.all(), empty_label=_("— choose a taxon —"))
    whole_sequence = forms.BooleanField(required=False, label=_("Apply to the whole sequence"))
    count = forms.IntegerField(
        min_value=1, max_value=MAX_LABEL_COUNT, required=False, label=_("Count")
    )
    expected_current = forms.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, widget=forms.HiddenInput
    )
    # the newest label event on the sequence when the page was read: a whole-sequence label checks
    # every frame against it, not only the one shown
    expected_sequence = forms.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, widget=forms.HiddenInput
    )


class ImportForm(forms.Form):
    archive = forms.FileField(
        label=_("Archive (.zip)"),
        help_text=_(
            "A .zip of the folder: one sub-folder per class, or a COCO Camera Traps "
            "JSON beside the images, or plain media."
        ),
    )
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="auto", label=_("Layout"))
    organisation = forms.TypedChoiceField(coerce=int, label=_("Organisation"))
    deployment_name = forms.CharField(
        required=False,
        max_length=200,
        label=_("Deployment"),
        widget=forms.TextInput(attrs={"list": "deployment-names"}),
        help_text=_(
            "Every file goes to this deployment (an existing one, or a new one "
            "of this name). Empty: the cameras the folders or the COCO "
            "locations name, else one named after the archive."
        ),
    )
    maxlag = forms.FloatField(
        min_value=0,
        max_value=MAX_MAXLAG_S,
        required=False,
        label=_("Sequence gap (s)"),
        help_text=_("Seconds; empty = organisation default."),
    )


NO_LABEL, NEW_TAXON = "none", "new"  # the class mapping's choices besides a taxon's slug


class ClassMappingForm(forms.Form):
    """The mapping step of an import: for each source class a taxon, no label, or (coordinators
    only) a new taxon with its English, French and scientific names. `rows` are the import's classes
    in order."""

    def __init__(
        self,
        *args: object,
        rows: list[ClassRow],
        taxa: list[Taxon],
        coordinator: bool,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows, self.coordinator = rows, coordinator
        options = [
            ("", _("— choose a taxon —")),
            *((t.slug, f"{t.name_en} · {t.name_fr}") for t in taxa),
            (NO_LABEL, _("no label: import these images unlabelled")),
        ]
        if coordinator:
            options.append((NEW_TAXON, _("create a new taxon…")))
        for position, row in enumerate(rows):
            self.fields[f"class_{position}"] = forms.ChoiceField(
                choices=options,
                label=row.name,
                initial=row.suggestion.taxon.slug if row.suggestion else "",
                error_messages={
                    "required": _("Choose a taxon for this class, or import it without a label.")
                },
            )
            if coordinator:
                self._new_taxon_fields(position, row)

    def _new_taxon_fields(self, position: int, row: ClassRow) -> None:
        self.fields[f"new_{position}_name_en"] = forms.CharField(
            required=False,
            max_length=120,
            label=_("English name"),
            initial=row.name.replace("_", " ").strip(),
        )
        self.fields[f"new_{position}_name_fr"] = forms.CharField(
            required=False, max_length=120, label=_("French name")
        )
        self.fields[f"new_{position}_scientific_name"] = forms.CharField(
            required=False, max_length=160, label=_("Scientific name")
        )

    def asks_new_taxa(self) -> bool:
        """Whether the submitted data asks for a new taxon anywhere (the view refuses it
        from partners)."""
        return any(
            self.data.get(f"class_{position}") == NEW_TAXON for position in range(len(self.rows))
        )

    def clean(self) -> dict:
        data = super().clean()
        for position in range(len(self.rows)):
            if (
                data.get(f"class_{position}") == NEW_TAXON
                and not (data.get(f"new_{position}_name_en") or "").strip()
            ):
                self.add_error(f"new_{position}_name_en", _("A new taxon needs an English name."))
        return data

    def choices(self, taxa: dict[str, Taxon]) -> dict[str, Choice]:
        """{source class: taxon, NewTaxon or None} from the cleaned data; `taxa` by slug."""
        chosen: dict[str, Choice] = {}
        for position, row in enumerate(self.rows):
            value = self.cleaned_data[f"class_{position}"]
            if value == NEW_TAXON:
                chosen[row.name] = NewTaxon(
                    *(
                        self.cleaned_data[f"new_{position}_{key}"].strip()
                        for key in ("name_en", "name_fr", "scientific_name")
                    )
                )
            else:
                chosen[row.name] = None if value == NO_LABEL else taxa[value]
        return chosen

    def row_fields(self) -> list[tuple[ClassRow, forms.BoundField, list[forms.BoundField]]]:
        """For the template: each class with its select and (coordinators) its new-taxon fields."""
        keys = ("name_en", "name_fr", "scientific_name") if self.coordinator else ()
        return [
            (row, self[f"class_{position}"], [self[f"new_{position}_{key}"] for key in keys])
            for position, row in enumerate(self.rows)
        ]


class TaxonForm(forms.Form):
    name_en = forms.CharField(max_length=120, label=_("English name"))
    name_fr = forms.CharField(max_length=120, label=_("French name"))
    scientific_name = forms.CharField(max_length=160, required=False, label=_("Scientific name"))
    parent = TaxonChoiceField(queryset=Taxon.objects.all(), required=False, label=_("Parent"))
    kind = forms.ChoiceField(choices=TaxonKind.choices, initial=TaxonKind.ANIMAL, label=_("Kind"))


class ConflictResolveForm(forms.Form):
    """A coordinator's answer to a review conflict: which task, and the taxon the sequence shows."""

    task = forms.IntegerField(min_value=1, max_value=MAX_ID)
    taxon = TaxonChoiceField(
        queryset=Taxon.objects.all(),
        error_messages={"required": _("Choose the taxon the sequence shows.")},
    )
    expected_current = forms.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, widget=forms.HiddenInput
    )  # the sequence's labels as the page showed them


class MembershipForm(forms.Form):
    """Add a member to an organisation, or change a member's role and review taxa (the
    members page)."""

    username = forms.CharField(max_length=150, label=_("User name"))
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"))
    review_taxa = TaxonMultipleChoiceField(
        queryset=Taxon.objects.all(),
        required=False,
        label=_("Review taxa"),
        help_text=_("Experts: the taxa whose queues they work."),
    )
    remove = forms.BooleanField(required=False, label=_("Remove"))

    def clean_username(self) -> User:
        user = User.objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError(
                _("No account has this name: invite them as a new person instead.")
            )
        return user


class ImageBrowseForm(forms.Form):
    """The image list's filters, read from the query string (the image page reads the same, to step
    through the same images). Ids that name no row are ignored, as links to a deleted camera should
    still open the list; a date that is not one, or a range that ends before it starts, is refused
    with a message."""

    organisation = forms.CharField(required=False)
    deployment = forms.CharField(required=False)
    batch = forms.CharField(required=False)
    taxon = forms.CharField(required=False)
    source = forms.ChoiceField(
        required=False, label=_("Label from"), choices=[("", _("anyone")), *SOURCE_CHOICES]
    )
    labelled = forms.CharField(required=False)
    taken_from = forms.DateField(required=False, label=_("Taken from"))
    taken_to = forms.DateField(required=False, label=_("Taken until"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("taken_from"), data.get("taken_to")
        if start and end and end < start:
            raise forms.ValidationError(
                _("The date range ends (%(end)s) before it starts (%(start)s).")
                % {"end": end, "start": start}
            )
        return data

    def browse(self) -> Browse:
        data = self.cleaned_data
        return Browse(
            organisation=id_or_none(data["organisation"]),
            deployment=id_or_none(data["deployment"]),
            batch=id_or_none(data["batch"]),
            taxon=id_or_none(data["taxon"]),
            source=data["source"],
            labelled={"yes": True, "no": False}.get(data["labelled"]),
            taken_from=data["taken_from"],
            taken_to=data["taken_to"],
        )

    def messages(self) -> list[str]:
        """Each refusal as a sentence that names the field."""
        found = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            found += [f"{label}: {error}" if label else str(error) for error in errors]
        return found


class ProposalDecisionForm(forms.Form):
    """A coordinator's answer to a proposed taxon: create it (`new`, names editable), map it to an
    existing one (`map`), or decline it; `note` is the word to the expert."""

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
        data["new_taxon"] = {
            name: data[name]
            for name in ("name_en", "name_fr", "scientific_name", "parent")
            if data.get(name)
        }
        return data
