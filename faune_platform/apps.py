from django.apps import AppConfig


class FaunePlatformConfig(AppConfig):
    name = "faune_platform"
    verbose_name = "Faune platform"
