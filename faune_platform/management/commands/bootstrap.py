"""Prepare a data dir for use: folders, database schema and seeds, a coordinator account. (The
secret key is written by manage.py before settings load, see faune_platform/settings/secret.py.)
Safe to run again: it changes nothing that is already in place and then says so in one line."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from annotation.models import Role
from annotation.services.organisations import membership_set, organisation_get_or_create
from faune_platform.jobs import sweep_schedule_ensure
from inference.services.registry import default_version_ensure
from training.services.schedule import training_schedule_ensure

COORDINATOR_ORGANISATION = "Faune coordination"


class Command(BaseCommand):
    help = "Create the data dir, migrate, seed taxa and make sure a coordinator account exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=os.environ.get("FAUNE_ADMIN_USER", "coordinator"))

    def handle(self, *args: object, **options: object) -> None:
        data_dir = Path(settings.DATA_DIR)
        for folder in (data_dir, Path(settings.MEDIA_ROOT), Path(settings.IMPORTS_DIR)):
            folder.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        message = self._ensure_coordinator(options["username"])
        default_version_ensure()  # pre-labels from the first upload, marked zero-shot everywhere
        training_schedule_ensure()
        sweep_schedule_ensure()  # resumes the jobs of a worker that was killed
        self.stdout.write(f"Faune data in {data_dir}. {message}")

    def _ensure_coordinator(self, username: str) -> str:
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            return f"Coordinator account: {username!r}."
        password = os.environ.get("FAUNE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = users.objects.create_superuser(username=username, password=password, email="")
        organisation, _ = organisation_get_or_create(name=COORDINATOR_ORGANISATION)
        membership_set(user=user, organisation=organisation, role=Role.COORDINATOR)
        if os.environ.get("FAUNE_ADMIN_PASSWORD"):
            return f"Created coordinator {username!r} with the password from FAUNE_ADMIN_PASSWORD."
        password_file = Path(settings.DATA_DIR) / "coordinator-password.txt"
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        return (
            f"Created coordinator {username!r} with password {password} "
            f"(also saved in {password_file}; change it after logging in)."
        )
