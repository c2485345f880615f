from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class FaunePlatformConfig(AppConfig):
    name = "faune_platform"
    verbose_name = _("Faune platform")
    default = True  # this module also declares the admin's config below


class FauneAdminConfig(admin_apps.AdminConfig):
    """The Django admin, opened to coordinators by membership (see faune_platform/auth.py)."""

    default = False
    default_site = "faune_platform.auth.FauneAdminSite"
