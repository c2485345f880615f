"""Forms of the platform's own pages: log-in (throttled) and API tokens."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from faune_platform.throttle import (
    client_address,
    login_attempt_begin,
    login_success_record,
)


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's log-in form, refusing while the name or the address is locked out (see
    faune_platform/throttle.py). `throttled` tells the view to answer 429."""

    throttled = False

    def clean(self) -> dict:
        username, address = self.data.get("username", ""), client_address(self.request)
        lockout = login_attempt_begin(username=username, address=address)
        if lockout is not None:
            self.throttled = True
            raise ValidationError(lockout.message, code="throttled")
        cleaned = super().clean()  # a wrong password raises: its attempt stays counted
        # A missing field leaves Django's check unmade and raises nothing: not a success either.
        if self.user_cache is not None:
            login_success_record(username=username, address=address)
        return cleaned


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label=_("Name"),
        help_text=_("What the token is for, e.g. “field laptop sync”."),
    )
    days = forms.IntegerField(min_value=1, label=_("Expires in (days)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The range is read per form, not at import, so a changed setting applies.
        days, limit = self.fields["days"], settings.FAUNE["API_TOKEN_MAX_DAYS"]
        days.validators.append(MaxValueValidator(limit))
        days.initial = settings.FAUNE["API_TOKEN_DEFAULT_DAYS"]
        days.widget.attrs.update(max=limit)
