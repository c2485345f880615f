"""The model registry: versions with their files (by sha256), class lists, and exactly one in production."""
import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotation.ingest.hashing import file_sha256
from annotation.models import Taxon
from inference.engine.specs import EFFICIENTNET_LITE0, BackboneSpec
from inference.engine.zero_shot import zero_shot_slugs
from inference.models import HeadKind, ModelClass, ModelVersion, VersionStatus
from inference.selectors import production_version

DEFAULT_NAME = "efficientnet-lite0-zero-shot"


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


def _keep_artifacts(name: str, version: str, files: dict[str, Path], copy: bool) -> tuple[dict, list[Path]]:
    """Copy each file into the data dir (unless it ships with a package) and record its sha256."""
    records, copied = {}, []
    for role, source in files.items():
        source = Path(source)
        target = source
        if copy:
            target = models_dir() / f"{name}-{version}" / f"{role}{''.join(source.suffixes) or '.bin'}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)
        records[role] = {"path": str(target), "sha256": file_sha256(target)}
    return records, copied


def model_version_register(
    *,
    name: str,
    version: str,
    spec: BackboneSpec,
    head_kind: str,
    classes: list[Taxon],
    files: dict[str, Path],
    copy_files: bool = True,
    detector: dict | None = None,
    temperature: float = 1.0,
    created_by: User | None = None,
    notes: str = "",
    inherited_artifacts: dict | None = None,
    lineage: dict | None = None,
) -> ModelVersion:
    """Register a version atomically: its row, its ordered class list and its files, or none of them.
    `inherited_artifacts` are file records of a parent version (a trained head keeps its base's backbone)."""
    artifacts, copied = _keep_artifacts(name, version, files, copy_files)
    artifacts = {**(inherited_artifacts or {}), **artifacts}
    try:
        with transaction.atomic():
            model = ModelVersion.objects.create(
                name=name, version=version, backbone=spec.to_dict(), head_kind=head_kind, artifacts=artifacts,
                detector=detector or {}, temperature=temperature, created_by=created_by, notes=notes,
                lineage=lineage or {})
            ModelClass.objects.bulk_create(ModelClass(version=model, index=i, taxon=t) for i, t in enumerate(classes))
            return model
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        raise


def model_version_promote(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one production version; the previous one is archived in the same transaction.
    Re-prediction of the whole pool is queued when it commits."""
    from inference.tasks import queue_prelabel_all

    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        ModelVersion.objects.filter(status=VersionStatus.PRODUCTION).exclude(pk=locked.pk).update(
            status=VersionStatus.ARCHIVED)
        locked.status, locked.promoted_at = VersionStatus.PRODUCTION, timezone.now()
        locked.save(update_fields=["status", "promoted_at"])
        queue_prelabel_all(locked)
    return locked


class RegistryError(Exception):
    http_status = 400


def model_version_set_status(*, version: ModelVersion, status: str) -> ModelVersion:
    if status not in VersionStatus.values:
        raise RegistryError(f"Unknown status {status!r}; use one of {', '.join(VersionStatus.values)}.")
    if status == VersionStatus.PRODUCTION:
        return model_version_promote(version=version)
    version.status = status
    version.save(update_fields=["status"])
    return version


def default_version_ensure() -> ModelVersion:
    """The zero-shot EfficientNet-Lite0 version, in production when nothing else is: pre-labels from day one."""
    from inference.engine.backbones import efficientnet_lite0_weights_path

    existing = ModelVersion.objects.filter(name=DEFAULT_NAME).first()
    if existing is None:
        taxa = {taxon.slug: taxon for taxon in Taxon.objects.all()}
        classes = [taxa[slug] for slug in zero_shot_slugs(set(taxa))]
        existing = model_version_register(
            name=DEFAULT_NAME, version="1", spec=EFFICIENTNET_LITE0, head_kind=HeadKind.ZERO_SHOT, classes=classes,
            files={"backbone": Path(efficientnet_lite0_weights_path())}, copy_files=False,
            notes="ImageNet weights mapped onto taxa through a fixed table; no training on camera-trap data.")
    if production_version() is None:
        existing = model_version_promote(version=existing)
    return existing
