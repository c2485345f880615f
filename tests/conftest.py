import importlib
import os
import shutil
import socket
import uuid
from pathlib import Path, PurePosixPath

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from annotation.models import Role
from tests import factories

SHARED_CAMTRAP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "camtrap"

# Property tests draw new examples at every local run, to find what no run found before; CI
# (.ci/run sets HYPOTHESIS_PROFILE=ci) draws the same ones every time, so a landing is never refused
# for an example drawn by chance there. HYPOTHESIS_PROFILE=ci replays CI's draws locally.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# The scale-out subset (`pytest -m integration`, run by .ci/run on PostgreSQL, Redis and two
# workers): the path
# an image takes from ingest through pre-labelling, selection and review to a round and a release,
# and the faults.
INTEGRATION_MODULES = {
    "tests/annotation/test_ingest.py",
    "tests/annotation/test_import_jobs.py",
    "tests/annotation/test_worker.py",
    "tests/annotation/test_labels.py",
    "tests/annotation/test_merges.py",
    "tests/annotation/test_review.py",
    "tests/annotation/test_review_races.py",
    "tests/inference/test_prelabel.py",
    "tests/inference/test_worker_kill.py",
    "tests/inference/test_selection_batches.py",
    "tests/inference/test_selection_routing.py",
    "tests/inference/test_object_storage.py",
    "tests/training/test_rounds.py",
    "tests/training/test_trust.py",
    "tests/platform/test_faults.py",
    "tests/platform/test_backup.py",
    "tests/platform/test_outbox.py",
    "tests/platform/test_settings_env.py",
    "tests/platform/test_throttle.py",
    "tests/annotation/test_undo.py",
    "tests/annotation/test_proposals.py",
}


def pytest_collection_modifyitems(config, items) -> None:
    root = Path(__file__).resolve().parent.parent
    for item in items:
        if str(Path(item.fspath).relative_to(root)) in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session, exitstatus) -> None:
    data_dir = Path(settings.DATA_DIR)
    if data_dir.name.startswith("faune-test-"):
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def seeded_taxa(transactional_db):
    """Transactional tests flush every table, the seeded taxa included: seed them again, as the
    migrations do (DeepFaune's classes, the higher taxa above them, French names accented)."""
    from django.apps import apps

    importlib.import_module("annotation.migrations.0002_seed_taxa").seed(apps, None)
    importlib.import_module("annotation.migrations.0008_higher_taxa").add(apps, None)
    importlib.import_module("annotation.migrations.0016_french_names_accented").accent(apps, None)


@pytest.fixture
def org(db):
    return factories.organisation("Parc des Écrins")


@pytest.fixture
def other_org(db):
    return factories.organisation("Réserve du Vercors")


@pytest.fixture
def partner(org):
    return factories.member("paula", org, Role.PARTNER)


@pytest.fixture
def other_partner(other_org):
    return factories.member("otto", other_org, Role.PARTNER)


@pytest.fixture
def expert(other_org):
    """An expert of deer, belonging to another organisation than the partner's."""
    return factories.member("erin", other_org, Role.EXPERT, taxa=[factories.taxon("red-deer")])


@pytest.fixture
def coordinator(db):
    return factories.member("cora", factories.organisation("Coordination"), Role.COORDINATOR)


def closed_port() -> int:
    """A loopback port that was free a moment ago: a server said to listen there is not running."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(partner):
    return client_for(partner)


@pytest.fixture
def shared_camtrap() -> Path:
    if not SHARED_CAMTRAP.is_dir():
        pytest.skip(
            f"real camera-trap samples not found at {SHARED_CAMTRAP} (they live beside the "
            "checkout)"
        )
    return SHARED_CAMTRAP


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test stores media in its own folder, so leftovers from one test never hide orphans
    in another."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORTS_DIR = tmp_path / "imports"
    default = settings.STORAGES["default"]
    if "location" in default.get("OPTIONS", {}):  # object storage (FAUNE_S3_BUCKET): a folder each
        folder = f"tests/{tmp_path.name}-{uuid.uuid4().hex[:8]}"
        options = {**default["OPTIONS"], "location": folder}
        settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
    settings.DATA_DIR = tmp_path


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in French leaves French active in its thread (the locale middleware activates the
    reader's language and nothing deactivates it): each test starts and ends in the default
    language, so one test's French never changes the words another test reads."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def zero_shot(settings):
    """Uploads pre-labelled after ingest, as in production (the test settings switch it off), by
    the default zero-shot version, which this returns."""
    from inference.services.registry import default_version_ensure

    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"]}
    return default_version_ensure()


def _empty_own_cache() -> None:
    """Empties this run's keys only: a Redis cache is shared by every test process, and its clear()
    would empty their log-in counts in the middle of their tests."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]  # the backend itself: django.core.cache.cache is a proxy to it
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=cache.make_key("*", version="*"), count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Log-in failures are counted in the cache (local memory, or Redis in the integration pass):
    each test starts with none, so one test's lock-out never refuses another's log-in."""
    _empty_own_cache()
    yield
    _empty_own_cache()


def stored_files(settings) -> list[PurePosixPath]:
    """Every file of the default storage (a folder on disk, or the test's folder of a bucket), by
    name, read through the storage API as the platform reads them."""
    from django.core.files.storage import default_storage

    names: list[PurePosixPath] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except FileNotFoundError:  # a media folder not created yet
            continue
        folders += [str(PurePosixPath(folder, name)) for name in subfolders]
        names += [PurePosixPath(folder, name) for name in files]
    return sorted(names)
