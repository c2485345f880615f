from django.contrib import messages
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from faune_platform.home import home_figures


def home(request: HttpRequest) -> HttpResponse:
    """Each role's work: a partner's uploads and pre-labels to check, an expert's queues, and for coordinators
    everything plus rounds, models and people."""
    figures = home_figures(request.user) if request.user.is_authenticated else {}
    return render(request, "home.html", figures)


class PasswordSetView(PasswordResetConfirmView):
    """Where an invited person chooses their password, from the one-time link a coordinator passed on (there is no
    mail server). They are signed in at once and land on their home page."""

    template_name = "registration/password_set.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("home")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Welcome to Faune, %(username)s.")
                         % {"username": form.user.username})
        return response
