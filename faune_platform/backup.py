"""Backup and restore of a whole platform: the database (as Django fixtures, so a backup taken on
SQLite restores on PostgreSQL and back), media through the storage API (local disk or object storage
alike), and the folders of the data dir that hold model files, round reports, releases and waiting
imports. FAISS indexes are not kept: they are rebuilt from the stored embeddings after a restore.
Neither is the secret key, nor the job queue.

A backup folder holds `database.jsonl.gz` (one row per line), `media/`, one folder per data-dir
part, and `manifest.json` (row counts per model, every file with its size and SHA-256, the data dir
it came from): restore checks every file against it before touching anything, so a damaged backup is
refused whole."""

import base64
import gzip
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Model
from django.utils import timezone

from faune_platform.errors import InputRefused
from faune_platform.files import file_sha256

DATA_DIR_PARTS = ("models", "rounds", "releases", "imports")  # media goes through the storage API
# Queue state, sessions and what migrations create are not data a person wrote: a restored platform
# starts clean.
NOT_BACKED_UP = ("contenttypes", "auth.permission", "sessions", "django_q", "admin.logentry")


class BackupError(InputRefused):
    pass


def _models() -> Iterator[type[Model]]:
    skipped = {label.lower() for label in NOT_BACKED_UP}
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in skipped and label not in skipped and not model._meta.proxy:
            yield model


def _storage_files(folder: str = "") -> Iterator[str]:
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:  # local storage before the first upload
        return
    for name in files:
        yield f"{folder}/{name}" if folder else name
    for name in folders:
        yield from _storage_files(f"{folder}/{name}" if folder else name)


def _encode(value: object) -> str | dict[str, str]:
    """Full precision (Django's JSON encoder keeps milliseconds only); bytes as base64; the rest
    as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"cannot back up a {type(value).__name__}")


def _decoded(record: dict) -> dict:
    fields = record["fields"]
    for name, value in fields.items():
        if isinstance(value, dict) and set(value) == {"base64"}:
            fields[name] = base64.b64decode(value["base64"])
    return record


def _dump(out) -> None:
    """One JSON object per row, model by model, read in chunks (a pool of a million images fits in
    no memory)."""
    for model in _models():
        rows = model._default_manager.order_by("pk").iterator(chunk_size=2000)
        for record in serializers.serialize("python", rows, use_natural_foreign_keys=True):
            out.write(json.dumps(record, default=_encode) + "\n")


def _load(lines) -> None:
    """Rows back in, with the database's checks of references held until every row is in (rows
    refer to rows of models written later); then the id sequences carry on from the restored
    ids (PostgreSQL)."""
    with connection.constraint_checks_disabled():
        chunk = []
        for line in lines:
            chunk.append(_decoded(json.loads(line)))
            if len(chunk) == 2000:
                _save(chunk)
                chunk = []
        _save(chunk)
    connection.check_constraints()
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(_models())):
            cursor.execute(statement)


def _save(records: list[dict]) -> None:
    waiting = []
    for restored in serializers.deserialize("python", records, handle_forward_references=True):
        restored.save()
        if restored.deferred_fields:  # a reference to a row of a later chunk or model
            waiting.append(restored)
    for restored in waiting:
        restored.save_deferred_fields()


def _migrations() -> list[str]:
    """The schema's history: every migration applied to this database, as app.name."""
    applied = MigrationRecorder(connection).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied)


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the database for the whole dump, that holds back no writer.
    PostgreSQL's default isolation would read each table at another moment (a member without
    their user, a backup that cannot be restored); SQLite's IMMEDIATE transactions, the platform's
    setting for writers, would lock every writer out while a large pool is read."""
    if connection.in_atomic_block:  # inside a caller's transaction: its view is the one there is
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")  # a read transaction: WAL keeps its view for it
            try:
                yield
            finally:
                cursor.execute("COMMIT")
    else:
        with transaction.atomic():
            yield


def backup(target: Path) -> dict:
    """Write a backup into `target` (a new or empty folder). Returns the manifest."""
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder.")
    data_dir = Path(settings.DATA_DIR)
    with _snapshot():
        counts = {model._meta.label: model._default_manager.count() for model in _models()}
        with gzip.open(target / "database.jsonl.gz", "wt", encoding="utf-8") as out:
            _dump(out)
    for name in _storage_files():
        destination = target / "media" / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(name, "rb") as source, destination.open("wb") as out:
            shutil.copyfileobj(source, out)
    for part in DATA_DIR_PARTS:
        if (data_dir / part).is_dir():
            shutil.copytree(
                data_dir / part,
                target / part,
                ignore=shutil.ignore_patterns("*.lock", ".*.partial"),
            )
    files = {
        str(path.relative_to(target)): {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }
    manifest = {
        "created_at": timezone.now().isoformat(),
        "data_dir": str(data_dir),
        "migrations": _migrations(),
        "rows": counts,
        "files": files,
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _checked_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / "manifest.json").read_text())
    except (FileNotFoundError, ValueError) as error:
        raise BackupError(
            f"{source} holds no readable manifest.json: is it a backup folder? ({error})"
        ) from None
    for name, expected in manifest["files"].items():
        path = source / name
        if not path.is_file() or file_sha256(path) != expected["sha256"]:
            raise BackupError(
                f"{name} is missing or differs from the manifest: the backup is damaged; "
                "nothing was restored."
            )
    listed = {*manifest["files"], "manifest.json"}
    for path in source.rglob("*"):
        name = path.relative_to(source).as_posix()
        if path.is_symlink() or (path.is_file() and name not in listed):
            raise BackupError(
                f"{name} is in the backup folder but not in its manifest: only what the backup "
                "wrote is restored; move it out, then restore again. Nothing was restored."
            )
    return manifest


def _same_schema(manifest: dict) -> None:
    """Rows fit only the schema they were written under: a backup of another release would fail
    halfway (a column unknown here) or skip the data migrations between the two."""
    if "migrations" not in manifest:  # written before backups recorded their schema
        return
    theirs, ours = set(manifest["migrations"]), set(_migrations())
    if theirs == ours:
        return
    only_theirs, only_ours = sorted(theirs - ours), sorted(ours - theirs)
    raise BackupError(
        "This backup was written by another release of the platform: its database schema differs "
        f"from this one's (applied there only: {', '.join(only_theirs[:5]) or 'none'}; here only: "
        f"{', '.join(only_ours[:5]) or 'none'}). Restore it with the release that wrote it, then "
        "upgrade; nothing was restored."
    )


def _holds_data() -> bool:
    return any(
        model._default_manager.exists()
        for model in _models()
        if model._meta.app_label in ("annotation", "inference", "training")
        and model._meta.model_name not in ("taxon",)
    )


def _rewrite_paths(old: str, new: str) -> None:
    """Files recorded under the old data dir (model files, a round's frozen labels) now live under
    this one."""
    from inference.models import ModelVersion
    from training.models import TrainingRound

    versions = (ModelVersion, ("artifacts", "lineage", "detector"))
    for model, fields in (versions, (TrainingRound, ("snapshot",))):
        for row in model.objects.all():
            changed = [field for field in fields if old in json.dumps(getattr(row, field))]
            for field in changed:
                text = json.dumps(getattr(row, field)).replace(
                    json.dumps(old)[1:-1], json.dumps(new)[1:-1]
                )
                setattr(row, field, json.loads(text))
            if changed:
                row.save(update_fields=changed)


def restore(source: Path, *, replace: bool = False) -> dict:
    """Restore a backup over this platform's database and files; refuses to overwrite data
    unless `replace`. The data-dir folders are copied beside their places before the database is
    touched, and the media written before what the backup lacks is deleted: a failure on the way
    leaves nothing half-copied in place, and restoring again finishes the work."""
    manifest = _checked_manifest(source)
    _same_schema(manifest)
    if _holds_data() and not replace:
        raise BackupError(
            "This platform already holds images, labels or models: restoring would replace them. "
            "Run again with --replace to do so."
        )
    data_dir = Path(settings.DATA_DIR)
    staged = _stage_data_dir(source, data_dir)
    try:
        with transaction.atomic():
            call_command("flush", interactive=False, verbosity=0)
            with gzip.open(source / "database.jsonl.gz", "rt", encoding="utf-8") as lines:
                _load(lines)
            _rewrite_paths(manifest["data_dir"], str(data_dir))
        _swap_in(staged, data_dir)
        _restore_media(source / "media")
    except OSError as error:
        raise BackupError(
            f"The database is restored but copying the files failed ({error}): free the space or "
            "mend the cause, then run restore again with --replace."
        ) from error
    finally:
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)
    _schedules_ensure()  # flushing the database emptied the worker's schedules too
    _rebuild_indexes()
    return manifest


def _stage_data_dir(source: Path, data_dir: Path) -> dict[str, Path]:
    """Each data-dir part of the backup copied beside its place (same disk: moved in at once)."""
    staged = {}
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        for part in DATA_DIR_PARTS:
            staged[part] = data_dir / f".restoring-{part}"
            shutil.rmtree(staged[part], ignore_errors=True)  # left by a restore that was killed
            if (source / part).is_dir():
                shutil.copytree(source / part, staged[part], symlinks=True)
    except OSError:
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return staged


def _swap_in(staged: dict[str, Path], data_dir: Path) -> None:
    for part, folder in staged.items():
        shutil.rmtree(data_dir / part, ignore_errors=True)
        if folder.is_dir():
            folder.rename(data_dir / part)
    shutil.rmtree(data_dir / "faiss", ignore_errors=True)


def _restore_media(media: Path) -> None:
    """The backup's media written first (a name already here is replaced), then what it lacks
    deleted."""
    kept = set()
    for path in sorted(media.rglob("*")) if media.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            name = path.relative_to(media).as_posix()
            kept.add(name)
            default_storage.delete(name)  # else the storage would save it under another name
            with path.open("rb") as content:
                default_storage.save(name, content)
    for name in _storage_files():
        if name not in kept:
            default_storage.delete(name)


def _schedules_ensure() -> None:
    from faune_platform.jobs import sweep_schedule_ensure
    from training.services.schedule import training_schedule_ensure

    sweep_schedule_ensure()
    training_schedule_ensure()


def _rebuild_indexes() -> None:
    from inference.models import Embedding
    from inference.services.index import index_rebuild

    for key in Embedding.objects.values_list("backbone_key", flat=True).distinct():
        index_rebuild(key)
