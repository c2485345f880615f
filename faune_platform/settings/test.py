"""Test settings: fast hashing, jobs run inline, everything written to a throw-away data dir."""

import os
import tempfile
from pathlib import Path

# The base settings refuse to start without a key; tests use a fixed one (worker subprocesses get
# it too).
os.environ.setdefault("FAUNE_SECRET_KEY", "test-only-secret")

from faune_platform.settings.base import *  # noqa: E402, F403
from faune_platform.settings.base import (  # noqa: E402
    _SQLITE_OPTIONS,
    CACHES,
    DATABASES,
    FAUNE,
    Q_CLUSTER,
    FauneSettings,
)

# Tests never touch the checkout's var/: each run gets its own folder (pytest's conftest
# removes it).
DATA_DIR = Path(tempfile.mkdtemp(prefix="faune-test-"))
MEDIA_ROOT = DATA_DIR / "media"
IMPORTS_DIR = DATA_DIR / "imports"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": _SQLITE_OPTIONS,
        "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
    }

# The queue is this run's own (its name follows the run's data dir): parallel test processes on one
# Redis never take each other's jobs.
RUN_NAME = "faune-test-" + DATA_DIR.name.rsplit("-", 1)[-1]
Q_CLUSTER = {**Q_CLUSTER, "name": RUN_NAME, "sync": True}

# The same for the log-in counts in a shared Redis cache: each run writes under its own prefix, and
# tests empty only that prefix (clearing a Redis cache would empty the other runs' counts too).
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": RUN_NAME}}

# Pre-labelling after every upload would load a model in every test, and double review would make
# single-review tests depend on a hash: the tests that need them switch them back on.
FAUNE = FauneSettings(**{**FAUNE, "AFTER_INGEST_TASKS": [], "DOUBLE_REVIEW_FRACTION": 0.0})
