"""Forms of the deployment pages: what a field team records about a camera at a site."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from annotation.services.organisations import MAX_CLOCK_OFFSET_S

_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _degrees(bound: int, label: str) -> forms.FloatField:
    out_of_range = format_lazy(
        _("{label} lies between -{bound} and {bound} degrees."), label=label, bound=bound
    )
    return forms.FloatField(
        min_value=-bound,
        max_value=bound,
        required=False,
        label=label,
        widget=forms.NumberInput(attrs={"step": "any"}),
        error_messages={"min_value": out_of_range, "max_value": out_of_range},
        help_text=format_lazy(_("Decimal degrees, WGS84 (-{bound} to {bound})."), bound=bound),
    )


class DeploymentForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    location_name = forms.CharField(
        max_length=200,
        required=False,
        label=_("Location"),
        help_text=_("The site as the field team calls it."),
    )
    latitude = _degrees(90, _("Latitude"))
    longitude = _degrees(180, _("Longitude"))
    camera_id = forms.CharField(
        max_length=100,
        required=False,
        label=_("Camera id"),
        help_text=_("Serial or inventory number."),
    )
    camera_make = forms.CharField(max_length=100, required=False, label=_("Camera make"))
    camera_model = forms.CharField(max_length=100, required=False, label=_("Camera model"))
    start = forms.DateTimeField(required=False, label=_("Set up (UTC)"), widget=_WHEN)
    end = forms.DateTimeField(required=False, label=_("Picked up (UTC)"), widget=_WHEN)
    habitat = forms.CharField(
        required=False,
        label=_("Habitat and set-up notes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Habitat, height, direction, bait…"),
    )
    clock_offset_s = forms.IntegerField(
        min_value=-MAX_CLOCK_OFFSET_S,
        max_value=MAX_CLOCK_OFFSET_S,
        initial=0,
        label=_("Clock offset (seconds)"),
        help_text=_(
            "Added to the camera's clock to get the true time; changing it "
            "shifts the dates of this camera's images."
        ),
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("The pick-up must come after the set-up."))
        return data


class DeploymentCreateForm(forms.Form):
    organisation = forms.TypedChoiceField(coerce=int, label=_("Organisation"))
    name = forms.CharField(
        max_length=200,
        label=_("Name"),
        help_text=_("One camera at one site, e.g. “Col du Lautaret 2025”."),
    )
