"""The secret key: from FAUNE_SECRET_KEY, else from a file in the data dir written once, before
Django loads, by `manage.py bootstrap`. No silent fallback: a key that changed between the process
that queues a job and the worker that runs it would make the worker drop the job as badly signed."""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from faune_platform.settings.env import env_path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def data_dir() -> Path:
    """Everything the platform writes lives under one folder, so two data dirs never share state."""
    return env_path("FAUNE_DATA_DIR", BASE_DIR / "var")


def secret_key_file(folder: Path) -> Path:
    return folder / "secret_key"


def secret_key_read(folder: Path) -> str:
    from_env = os.environ.get("FAUNE_SECRET_KEY", "").strip()
    if from_env:
        return from_env
    path = secret_key_file(folder)
    if path.exists():
        return path.read_text().strip()
    raise ImproperlyConfigured(
        f"No secret key in {path}: run `make setup` (or `python manage.py bootstrap`) "
        "once for this data dir, or set FAUNE_SECRET_KEY."
    )


def secret_key_ensure(folder: Path) -> bool:
    """Write a new key file unless a key exists (file or environment); True when one was written."""
    path = secret_key_file(folder)
    if os.environ.get("FAUNE_SECRET_KEY", "").strip() or path.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_urlsafe(50))
    path.chmod(0o600)
    return True
