"""python manage.py register_model --checkpoint PATH --format deepfaune|timm [--backbone NAME]
[--classes FILE]

Registers external weights from a local file as a candidate version (or production with
--promote). The file is loaded and checked first: a corrupt file or a class count that does not
match registers nothing."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Taxon
from annotation.services.taxa import taxa_match
from faune_platform.files import file_sha256
from inference.engine.backbones import (
    CheckpointError,
    LoadedCheckpoint,
    load_deepfaune_checkpoint,
    load_timm_checkpoint,
)
from inference.engine.specs import BackboneSpec
from inference.models import HeadKind
from inference.services.registry import LostClasses, model_version_promote, model_version_register


class Command(BaseCommand):
    help = (
        "Register a classifier from a local weights file (DeepFaune's format or a timm state dict)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", required=True, type=Path)
        parser.add_argument("--format", required=True, choices=["deepfaune", "timm"])
        parser.add_argument("--backbone", help="timm model name (required for --format timm)")
        parser.add_argument(
            "--input-size", type=int, help="crop size in pixels (DeepFaune: 182 or 224)"
        )
        parser.add_argument(
            "--classes", type=Path, help="text file, one class name per line, in output order"
        )
        parser.add_argument("--name", help="version name (default: the file's name)")
        parser.add_argument(
            "--model-version", dest="version_label", default="1", help="version label"
        )
        parser.add_argument(
            "--detector", type=Path, help="ultralytics YOLO weights to detect before classifying"
        )
        parser.add_argument("--detector-size", type=int, default=960)
        parser.add_argument("--promote", action="store_true", help="make it the production version")
        parser.add_argument(
            "--confirm-lost-classes",
            action="store_true",
            help="promote even if it cannot say classes the production version says",
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            loaded = self._load(options)
            classes = self._classes(options["classes"], loaded.num_classes)
        except CheckpointError as error:
            raise CommandError(f"Nothing registered: {error}") from None
        detector = self._detector(options)
        version = model_version_register(
            name=options["name"] or options["checkpoint"].stem,
            version=options["version_label"],
            spec=_with_weights_key(loaded.spec, options["checkpoint"]),
            head_kind=HeadKind.CHECKPOINT,
            classes=classes,
            files={"checkpoint": options["checkpoint"]},
            detector=detector,
            formats={"checkpoint": options["format"]},
        )
        if options["promote"]:
            try:
                version = model_version_promote(
                    version=version,
                    note="register_model --promote",
                    confirm_lost_classes=options["confirm_lost_classes"],
                )
            except LostClasses as error:
                raise CommandError(
                    f"Registered as a candidate, not promoted: {error} "
                    "(--confirm-lost-classes promotes anyway)"
                ) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": version.pk,
                    "name": version.name,
                    "version": version.version,
                    "status": version.status,
                    "classes": len(classes),
                    "backbone": loaded.spec.timm_name,
                }
            )
        )

    def _load(self, options: dict) -> LoadedCheckpoint:
        path = str(options["checkpoint"])
        if options["format"] == "deepfaune":
            return load_deepfaune_checkpoint(
                path, backbone=options["backbone"], input_size=options["input_size"]
            )
        if not options["backbone"]:
            raise CheckpointError("--format timm needs --backbone (the timm model name)")
        return load_timm_checkpoint(
            path, BackboneSpec(options["backbone"], options["input_size"] or 224)
        )

    def _classes(self, path: Path | None, count: int) -> list[Taxon]:
        if path is None:
            seeded = list(
                Taxon.objects.filter(deepfaune_order__isnull=False).order_by("deepfaune_order")
            )
            if count != len(seeded):
                raise CheckpointError(
                    f"the checkpoint has {count} classes; without --classes only DeepFaune's "
                    f"{len(seeded)} seeded classes can be assumed"
                )
            return seeded
        names = [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        if len(names) != count:
            raise CheckpointError(
                f"{path.name} lists {len(names)} classes but the checkpoint outputs {count}"
            )
        found, unknown = taxa_match(set(names))
        if unknown:
            raise CheckpointError(
                f"unknown class names in {path.name}: {', '.join(unknown)} (a coordinator adds "
                "taxa on the Taxa page)"
            )
        return [found[name] for name in names]

    def _detector(self, options: dict) -> dict:
        path = options["detector"]
        if path is None:
            return {}
        if not path.is_file():
            raise CommandError(f"Nothing registered: no detector weights at {path}")
        return {
            "path": str(path.resolve()),
            "sha256": file_sha256(path),
            "image_size": options["detector_size"],
        }


def _with_weights_key(spec: BackboneSpec, checkpoint: Path) -> BackboneSpec:
    """Two checkpoints of one architecture (DeepFaune 1.3 and 1.4 both fine-tuned DINOv2) embed
    differently: the weights' hash in the spec keeps their embeddings apart, so stored ones are only
    reused by the same weights."""
    extra = {**spec.extra, "weights": file_sha256(checkpoint)[:12]}
    return BackboneSpec.from_dict({**spec.to_dict(), "extra": extra})
