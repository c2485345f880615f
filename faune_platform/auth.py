"""Coordinators manage the platform through the Django admin without any account flag: their
rights come from their memberships, read on each request, so taking the role back takes the admin
away at once.

Site admins (the `is_superuser` flag, set only by `createsuperuser` and `bootstrap`) keep Django's
own rules."""

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from annotation.permissions import user_access

# What coordinators may change in the admin. Not `authtoken` (another user's token is their
# password), and not `django_q`: a Schedule names any function for the worker to run, so whoever
# edits them runs code as the platform (and could plant a job that gives back a role taken away).
# Site admins keep both.
COORDINATOR_APPS = {"annotation", "inference", "training", "auth"}


def is_coordinator(user: object) -> bool:
    return bool(getattr(user, "is_active", False)) and user_access(user).coordinator


class CoordinatorBackend(BaseBackend):
    """Grants coordinators the model permissions of the platform's apps; authenticates nobody."""

    def has_perm(self, user_obj: object, perm: str, obj: object = None) -> bool:
        return perm.split(".", 1)[0] in COORDINATOR_APPS and is_coordinator(user_obj)

    def has_module_perms(self, user_obj: object, app_label: str) -> bool:
        return app_label in COORDINATOR_APPS and is_coordinator(user_obj)


class FauneAdminSite(admin.AdminSite):
    site_header = "Faune administration"

    def has_permission(self, request: HttpRequest) -> bool:
        """Coordinators and site admins; not the `is_staff` flag, which memberships never set."""
        user = request.user
        return user.is_active and (user.is_superuser or is_coordinator(user))

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """The platform's log-in page, throttled like every log-in: the admin's own form counted no
        failures, and the accounts it serves are the site admins."""
        return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index"))
