"""Forms of the inference pages."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from annotation.browse import SOURCE_CHOICES
from annotation.models import Deployment, Organisation, Taxon
from inference.engine.exports.camtrapdp import SAMPLING_DESIGNS
from inference.models import ExportFormat
from inference.services.exports.scope import ExportOptions, ExportScope

PEOPLE_CHOICES = [
    ("blur", _("blurred (face and body box; the whole frame when no box says where)")),
    ("exclude", _("left out of the export")),
]
LABELLED_CHOICES = [("", _("either")), ("yes", _("labelled")), ("no", _("not yet"))]


def _representable(moment: dt.datetime | None) -> dt.datetime | None:
    """Refuse a time that UTC cannot hold (the first or last hours of the calendar, once the zone
    is applied)."""
    if moment is None:
        return None
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        raise forms.ValidationError(_("This date is out of range.")) from None
    return moment


class ExportForm(forms.Form):
    """What to export (the scope, as the image list filters it) and how. The page pre-fills it from
    its query string:
    ?organisation=ID&deployment=ID&deployment=ID&taxon=ID&labelled=yes|no&source=...&batch=ID
    &taken_from=DAY&taken_to=DAY (the image list's keys) or &taken_after=...&taken_before=... (to
    the second), &format=camtrapdp."""

    format = forms.ChoiceField(
        label=_("Format"), choices=ExportFormat.choices, initial=ExportFormat.CAMTRAP_DP
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("all you may export"),
    )
    deployment = forms.ModelMultipleChoiceField(
        label=_("Deployments"),
        queryset=Deployment.objects.none(),
        required=False,
        help_text=_("none chosen: every deployment"),
    )
    taxon = forms.ModelChoiceField(
        label=_("Taxon"), queryset=Taxon.objects.all(), required=False, empty_label=_("any")
    )
    labelled = forms.ChoiceField(label=_("Labelled"), choices=LABELLED_CHOICES, required=False)
    source = forms.ChoiceField(
        label=_("Label from"), choices=[("", _("anyone")), *SOURCE_CHOICES], required=False
    )
    batch = forms.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, widget=forms.HiddenInput
    )
    taken_after = forms.DateTimeField(
        label=_("Taken after"),
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
        ),
    )
    taken_before = forms.DateTimeField(
        label=_("Taken before"),
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
        ),
    )
    people = forms.ChoiceField(
        label=_("Images showing people"),
        choices=PEOPLE_CHOICES,
        initial="blur",
        widget=forms.RadioSelect,
    )
    media = forms.BooleanField(
        label=_("Include the image files (Camtrap DP)"), required=False, initial=True
    )
    language = forms.ChoiceField(
        label=_("Class names (DeepFaune)"),
        initial="fr",
        choices=[("fr", _("French")), ("en", _("English"))],
    )
    utc_offset = forms.RegexField(
        label=_("Cameras' time zone"),
        regex=r"^(Z|[+-](0\d|1[0-4]):[0-5]\d)$",
        required=False,
        max_length=6,
        help_text=_("e.g. +01:00; empty: UTC. Used where the pool does not know it."),
        error_messages={"invalid": _("Write the offset like +01:00 or -05:00.")},
    )
    sampling_design = forms.ChoiceField(
        label=_("Sampling design (Camtrap DP)"),
        initial="opportunistic",
        choices=[(design, design) for design in SAMPLING_DESIGNS],
    )
    title = forms.CharField(label=_("Title"), max_length=200, required=False)

    def __init__(self, *args: object, organisations, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        deployments = self.fields["deployment"]
        deployments.queryset = (
            Deployment.objects.filter(organisation__in=organisations)
            .select_related("organisation")
            .order_by("organisation__name", "name")
        )
        if organisations.count() > 1:  # two organisations may name a camera alike
            deployments.label_from_instance = lambda d: f"{d.name} ({d.organisation.name})"

    def clean_taken_after(self) -> dt.datetime | None:
        return _representable(self.cleaned_data["taken_after"])

    def clean_taken_before(self) -> dt.datetime | None:
        return _representable(self.cleaned_data["taken_before"])

    def scope(self) -> ExportScope:
        data = self.cleaned_data
        return ExportScope(
            organisation=data["organisation"].pk if data["organisation"] else None,
            deployments=tuple(d.pk for d in data["deployment"]),
            taxon=data["taxon"].pk if data["taxon"] else None,
            labelled={"yes": True, "no": False}.get(data["labelled"]),
            batch=data["batch"],
            taken_after=data["taken_after"],
            taken_before=data["taken_before"],
            source=data["source"],
        )

    def options(self) -> ExportOptions:
        data = self.cleaned_data
        return ExportOptions(
            people=data["people"],
            media=data["media"],
            language=data["language"],
            utc_offset=data["utc_offset"],
            sampling_design=data["sampling_design"],
            title=data["title"],
        )
