from django.contrib import messages
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


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
