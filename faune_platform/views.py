from django.contrib import messages
from django.contrib.auth.views import LoginView, PasswordChangeView, PasswordResetConfirmView
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import cache_control

from faune_platform.forms import ThrottledAuthenticationForm
from faune_platform.home import home_figures
from faune_platform.tokens.services import api_tokens_revoke_all


def home(request: HttpRequest) -> HttpResponse:
    """Each role's work: a partner's uploads and pre-labels to check, an expert's queues, and for
    coordinators everything plus rounds, models and people."""
    figures = home_figures(request.user) if request.user.is_authenticated else {}
    return render(request, "home.html", figures)


class PasswordSetView(PasswordResetConfirmView):
    """Where an invited person chooses their password, from the one-time link a coordinator passed
    on (there is no mail server). They are signed in at once and land on their home page."""

    template_name = "registration/password_set.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("home")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        api_tokens_revoke_all(user=form.user)
        messages.success(
            self.request,
            _("Your password is set. Welcome to Faune, %(username)s.")
            % {"username": form.user.username},
        )
        return response


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """Browsers ask for /favicon.ico on every site whatever the pages link to; answer with the
    linked icon."""
    return FileResponse(open(finders.find("faune/favicon.ico"), "rb"), content_type="image/x-icon")


class ThrottledLoginView(LoginView):
    """Django's log-in page; failed attempts are counted and a locked-out name or address gets 429
    and a form error saying how long to wait."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


class PasswordChangePageView(PasswordChangeView):
    """Django's password change; the API tokens made under the old password are revoked with it."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("api-tokens")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        revoked = api_tokens_revoke_all(user=form.user)
        messages.success(
            self.request,
            ngettext(
                "Your password is changed; %(n)d API token was revoked.",
                "Your password is changed; %(n)d API tokens were revoked.",
                revoked,
            )
            % {"n": revoked},
        )
        return response
