"""The model registry: versions with their files (by sha256), class lists, and exactly one
in production."""

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from annotation.models import Taxon
from faune_platform.errors import InputRefused, StateConflict
from faune_platform.files import file_sha256
from inference.engine.specs import EFFICIENTNET_LITE0, BackboneSpec
from inference.engine.zero_shot import zero_shot_slugs
from inference.models import HeadKind, ModelClass, ModelStatusChange, ModelVersion, VersionStatus
from inference.selectors import production_version, promotion_warnings

DEFAULT_NAME = "efficientnet-lite0-zero-shot"


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


def _keep_artifacts(
    name: str, version: str, files: dict[str, Path], copy: bool, formats: dict[str, str]
) -> tuple[dict[str, dict[str, str]], list[Path]]:
    """Copy each file into the data dir (unless it ships with a package) and record its sha256
    (and format)."""
    records, copied = {}, []
    for role, source in files.items():
        source = Path(source)
        target = source
        if copy:
            target = (
                models_dir() / f"{name}-{version}" / f"{role}{''.join(source.suffixes) or '.bin'}"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)
        records[role] = {"path": str(target), "sha256": file_sha256(target)}
        if role in formats:
            records[role]["format"] = formats[role]
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
    detector: dict[str, Any] | None = None,
    temperature: float = 1.0,
    created_by: User | None = None,
    notes: str = "",
    inherited_artifacts: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    formats: dict[str, str] | None = None,
) -> ModelVersion:
    """Register a version atomically: its row, its ordered class list and its files, or none of
    them. `inherited_artifacts` are file records of a parent version (a trained head keeps its
    base's backbone); `formats` names the format of a file role (a checkpoint in DeepFaune's or
    timm's layout)."""
    artifacts, copied = _keep_artifacts(name, version, files, copy_files, formats or {})
    artifacts = {**(inherited_artifacts or {}), **artifacts}
    # An operator's detector file is kept with the others (backed up, not gone with its folder);
    # a trained version's, inherited, is kept already.
    if detector and copy_files and not Path(detector["path"]).is_relative_to(models_dir()):
        kept, more = _keep_artifacts(name, version, {"detector": detector["path"]}, True, {})
        detector, copied = {**detector, **kept["detector"]}, copied + more
    try:
        with transaction.atomic():
            model = ModelVersion.objects.create(
                name=name,
                version=version,
                backbone=spec.to_dict(),
                head_kind=head_kind,
                artifacts=artifacts,
                detector=detector or {},
                temperature=temperature,
                created_by=created_by,
                notes=notes,
                lineage=lineage or {},
            )
            ModelClass.objects.bulk_create(
                ModelClass(version=model, index=i, taxon=t) for i, t in enumerate(classes)
            )
            _record(model, "", VersionStatus.CANDIDATE, created_by, notes or "registered")
            return model
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        raise


def _record(version: ModelVersion, before: str, after: str, user: User | None, note: str) -> None:
    ModelStatusChange.objects.create(
        version=version, from_status=before, to_status=after, changed_by=user, note=note[:500]
    )


class RegistryError(InputRefused):
    pass


class LostClasses(StateConflict):
    """Promoting would silence classes production says and the pool holds; a coordinator
    must confirm."""

    def __init__(self, version: ModelVersion, lost: list[dict[str, Any]]) -> None:
        self.lost = lost
        names = ", ".join(_("%(name)s (%(labels)s labels)") % row for row in lost)
        super().__init__(
            _(
                "%(version)s cannot say %(names)s, which the production version says and the pool "
                "holds. Promote anyway only if that is intended (confirm the promotion)."
            )
            % {"version": version, "names": names}
        )


def model_version_promote(
    *,
    version: ModelVersion,
    user: User | None = None,
    note: str = "",
    confirm_lost_classes: bool = False,
) -> ModelVersion:
    """Make `version` the one production version; the previous one is archived in the same
    transaction, and both changes are recorded with who made them. Refused (LostClasses) when the
    version cannot say a class production says and the pool holds, unless confirmed. Re-prediction
    of the pool is queued on commit."""
    from inference.tasks import queue_prelabel_all

    lost = promotion_warnings(version=version)
    if lost and not confirm_lost_classes:
        raise LostClasses(version, lost)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(status=VersionStatus.PRODUCTION)
            .exclude(pk=locked.pk)
            .first()
        )
        if previous is not None:
            ModelVersion.objects.filter(pk=previous.pk).update(status=VersionStatus.ARCHIVED)
            _record(
                previous,
                VersionStatus.PRODUCTION,
                VersionStatus.ARCHIVED,
                user,
                f"replaced by {locked}",
            )
        before = locked.status
        locked.status, locked.promoted_at = VersionStatus.PRODUCTION, timezone.now()
        locked.save(update_fields=["status", "promoted_at"])
        lost_note = (
            f"; confirmed despite losing {', '.join(row['name'] for row in lost)}" if lost else ""
        )
        _record(locked, before, VersionStatus.PRODUCTION, user, (note or "promoted") + lost_note)
        queue_prelabel_all(locked)
    return locked


def model_version_set_status(
    *,
    version: ModelVersion,
    status: str,
    user: User | None = None,
    confirm_lost_classes: bool = False,
    note: str = "",
) -> ModelVersion:
    """`note`: why, in the coordinator's words; kept after what was done in the status log."""
    if status not in VersionStatus.values:
        raise RegistryError(
            _("Unknown status %(status)r; use one of %(statuses)s.")
            % {"status": status, "statuses": ", ".join(VersionStatus.values)}
        )
    why = f": {note.strip()}" if note.strip() else ""
    if status == VersionStatus.PRODUCTION:
        done = "rolled back to" if version.status == VersionStatus.ARCHIVED else "promoted by hand"
        return model_version_promote(
            version=version, user=user, note=done + why, confirm_lost_classes=confirm_lost_classes
        )
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(
            pk=version.pk
        )  # a promotion may be under way
        if locked.status == VersionStatus.PRODUCTION:
            raise RegistryError(
                _(
                    "The production version cannot be demoted directly; promote another version "
                    "instead."
                )
            )
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        _record(locked, before, status, user, "set by hand" + why)
    return locked


def default_version_ensure() -> ModelVersion:
    """The zero-shot EfficientNet-Lite0 version, in production when nothing else is: pre-labels from
    day one."""
    from inference.engine.backbones import efficientnet_lite0_weights_path

    existing = ModelVersion.objects.filter(name=DEFAULT_NAME).first()
    if existing is None:
        taxa = {taxon.slug: taxon for taxon in Taxon.objects.all()}
        classes = [taxa[slug] for slug in zero_shot_slugs(set(taxa))]
        existing = model_version_register(
            name=DEFAULT_NAME,
            version="1",
            spec=EFFICIENTNET_LITE0,
            head_kind=HeadKind.ZERO_SHOT,
            classes=classes,
            files={"backbone": Path(efficientnet_lite0_weights_path())},
            copy_files=False,
            notes=gettext_noop(  # the models page translates the platform's own notes
                "ImageNet weights mapped onto taxa through a fixed table; no training on "
                "camera-trap data."
            ),
        )
    if production_version() is None:
        existing = model_version_promote(
            version=existing,
            note=gettext_noop("the default, while nothing else is in production"),
        )
    return existing
