"""Forms of the people pages: organisations, invitations, set-password links."""

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from annotation.models import Role, Taxon
from faune_platform.converters import MAX_ID


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))


class InviteForm(forms.Form):
    """A person new to the platform: their account is created with no password, and a one-time link
    lets them choose it."""

    username = forms.CharField(
        max_length=150,
        label=_("User name"),
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @ . + - _ only; they log in with it."),
    )
    email = forms.EmailField(required=False, label=_("E-mail (optional)"))
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"))
    review_taxa = forms.ModelMultipleChoiceField(
        queryset=Taxon.objects.all(), required=False, label=_("Review taxa (experts)")
    )


class PasswordLinkForm(forms.Form):
    """Which invited member gets a new set-password link."""

    user = forms.IntegerField(min_value=1, max_value=MAX_ID)
