"""Backup and restore, round trip: every table and every file comes back the same, indexes are
rebuilt, and a damaged backup or a platform that holds data is refused with nothing changed. On
SQLite here, on PostgreSQL in .ci/run's integration pass."""

import json
import shutil
import threading
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django_q.models import Schedule

from annotation.models import Image
from faune_platform.backup import DATA_DIR_PARTS, _models, _snapshot, _storage_files
from faune_platform.files import file_sha256
from faune_platform.jobs import SWEEP_SCHEDULE_NAME
from inference.services.index import index_path
from tests.conftest import client_for
from tests.factories import jpeg_bytes, organisation, upload
from training.services.releases import release_publish

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def _tables() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in _models()
    }


def _files(data_dir: Path) -> dict[str, str]:
    files = {}
    for name in _storage_files():
        with default_storage.open(name, "rb") as handle:
            files[f"media/{name}"] = handle.read()
    for part in DATA_DIR_PARTS:
        for path in sorted((data_dir / part).rglob("*")):
            if path.is_file() and not path.name.endswith(".lock"):
                files[str(path.relative_to(data_dir))] = file_sha256(path)
    return files


@pytest.fixture
def platform(zero_shot, partner):
    """A pool as a partner leaves it (uploaded, pre-labelled, labelled) and a published release."""
    version = zero_shot
    files = [upload(f"{i}.jpg", jpeg_bytes(size=(96, 72), seed=i)) for i in range(3)]
    assert (
        client_for(partner)
        .post(
            "/api/images/",
            {"files": files, "deployment_name": "Col du Lautaret"},
            format="multipart",
        )
        .status_code
        == 201
    )
    image = Image.objects.first()
    assert (
        client_for(partner)
        .post(f"/api/images/{image.pk}/annotations/", {"taxon": "fox"}, format="json")
        .status_code
        == 201
    )
    release_publish(version=version, semver="1.0.0", user=None)
    return version


def _wipe(data_dir: Path) -> None:
    call_command("flush", interactive=False, verbosity=0)
    for name in list(_storage_files()):
        default_storage.delete(name)
    for part in DATA_DIR_PARTS:
        shutil.rmtree(data_dir / part, ignore_errors=True)


def test_a_backup_restores_every_table_and_file_and_rebuilds_the_index(
    settings, platform, tmp_path
):
    data_dir = Path(settings.DATA_DIR)
    tables, files = _tables(), _files(data_dir)
    assert (
        tables["annotation.Image"] and tables["inference.Prediction"] and tables["training.Release"]
    )
    assert any(name.startswith("releases/") for name in files) and any(
        name.startswith("media/") for name in files
    )
    call_command("backup", str(tmp_path / "backup"), stdout=open("/dev/null", "w"))  # noqa: SIM115
    _wipe(data_dir)
    index_path(platform.backbone_key).unlink()
    assert not Image.objects.exists()
    call_command("restore", str(tmp_path / "backup"), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _tables() == tables
    assert _files(data_dir) == files
    assert index_path(platform.backbone_key).exists(), (
        "the similarity index is rebuilt from the embeddings"
    )
    assert organisation("Added after the restore").pk > max(
        row["id"] for row in tables["annotation.Organisation"]
    )
    # the flush emptied the worker's schedules: without the sweep no killed job would resume
    assert Schedule.objects.filter(name=SWEEP_SCHEDULE_NAME).exists()


def test_restore_refuses_a_damaged_backup_and_existing_data_and_changes_nothing(
    settings, platform, tmp_path
):
    call_command("backup", str(tmp_path / "backup"), stdout=open("/dev/null", "w"))  # noqa: SIM115
    tables = _tables()
    with pytest.raises(CommandError, match="--replace"):
        call_command("restore", str(tmp_path / "backup"))
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    damaged = next(name for name in manifest["files"] if name.startswith("media/"))
    (tmp_path / "backup" / damaged).write_bytes(b"not the photo")
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(tmp_path / "backup"), replace=True)
    assert _tables() == tables
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "backup"))


def test_restore_refuses_another_schema_and_files_the_backup_did_not_write(
    settings, platform, tmp_path
):
    backup_dir = tmp_path / "backup"
    call_command("backup", str(backup_dir), stdout=open("/dev/null", "w"))  # noqa: SIM115
    tables, written = _tables(), (backup_dir / "manifest.json").read_text()
    manifest = json.loads(written)
    manifest["migrations"].append("annotation.9999_from_a_later_release")
    (backup_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        CommandError, match="another release .*: annotation.9999_from_a_later_release"
    ):
        call_command("restore", str(backup_dir), replace=True)
    (backup_dir / "manifest.json").write_text(written)
    (backup_dir / "media" / "planted.jpg").write_bytes(jpeg_bytes(seed=99))
    with pytest.raises(CommandError, match="planted.jpg is in the backup folder but not in"):
        call_command("restore", str(backup_dir), replace=True)
    assert _tables() == tables


def _rename_every_image() -> None:
    """A writer with a connection of its own (this thread's), as the web server's would be."""
    try:
        Image.objects.update(original_name="renamed")
    finally:
        connection.close()


def test_a_backup_reads_one_moment_of_the_database_and_holds_back_no_writer(platform):
    with _snapshot():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                assert cursor.fetchone()[0] == "repeatable read"
        names = sorted(Image.objects.values_list("original_name", flat=True))
        writer = threading.Thread(target=_rename_every_image)
        writer.start()
        writer.join(timeout=20)
        assert not writer.is_alive(), "a writer waited for the backup to end"
        assert sorted(Image.objects.values_list("original_name", flat=True)) == names
    assert set(Image.objects.values_list("original_name", flat=True)) == {"renamed"}
