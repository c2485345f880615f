"""Turning a registered version into something that runs: weights checked against their sha256,
models built once per worker process. Imported only by worker code paths (it pulls in torch)."""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings

from faune_platform.files import file_sha256
from inference.engine.backbones import (
    CheckpointError,
    EmbeddingClassifier,
    efficientnet_lite0_weights_path,
    load_deepfaune_checkpoint,
    load_efficientnet_lite0,
    load_timm_checkpoint,
    timm_interface,
)
from inference.engine.detections import YoloDetector
from inference.engine.heads import load_head
from inference.engine.specs import BackboneSpec
from inference.engine.zero_shot import imagenet_to_taxa
from inference.models import HeadKind, ModelVersion


@dataclass
class Runner:
    spec: BackboneSpec
    classifier: EmbeddingClassifier
    class_slugs: list[str]
    zero_shot: bool
    detector: YoloDetector | None
    detector_name: str = ""
    head: torch.nn.Module | None = (
        None  # a head trained on the stored embeddings (raw pooled features)
    )

    @torch.inference_mode()
    def forward(self, pixels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Class logits (in the version's class order) and embeddings for a batch of crops."""
        _, embeddings = self.classifier(pixels)
        features = embeddings.float().numpy()
        return self.logits_from_features(features), features

    @torch.inference_mode()
    def logits_from_features(self, features: np.ndarray) -> np.ndarray:
        """Class logits from pooled features (fresh, or stored ones of the same backbone):
        the trained head, else the backbone's own classifier, mapped onto taxa for the
        zero-shot version."""
        tensor = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        if self.head is not None:
            trained: np.ndarray = self.head(tensor).numpy()
            return trained
        own_head = timm_interface(self.classifier.model).get_classifier()
        logits: np.ndarray = own_head(tensor).float().numpy()
        return imagenet_to_taxa(logits, self.class_slugs) if self.zero_shot else logits


def _checked(artifact: dict[str, Any]) -> str:
    path: str = artifact["path"]
    if not Path(path).is_file():
        raise CheckpointError(f"the model file {path} is missing")
    if file_sha256(Path(path)) != artifact["sha256"]:
        raise CheckpointError(
            f"the model file {path} changed since it was registered (sha256 differs)"
        )
    return path


def artifact_file(role: str, artifact: dict[str, Any]) -> str:
    """Where a version's file lies on this machine, checked against its hash. The backbone that a
    package ships lies wherever this machine installed the package (another virtualenv, a backup
    restored elsewhere): the same file, known by its hash, not by the path it was registered at."""
    if role == "backbone":
        artifact = {**artifact, "path": efficientnet_lite0_weights_path()}
    return _checked(artifact)


def _classifier(artifacts: dict[str, Any], spec: BackboneSpec) -> EmbeddingClassifier:
    """The backbone (with its own head) that a version's files describe; a trained head's version
    keeps its base's files under the same roles."""
    if "backbone" in artifacts:
        artifact_file("backbone", artifacts["backbone"])
        return load_efficientnet_lite0()
    path = _checked(artifacts["checkpoint"])
    fmt = artifacts["checkpoint"].get("format", "timm")
    loaded = (
        load_deepfaune_checkpoint(path, spec)
        if fmt == "deepfaune"
        else load_timm_checkpoint(path, spec)
    )
    return loaded.classifier


def runner_for(version_id: int) -> Runner:
    """The built model of a version, cached per worker process. The cache key includes the creation
    time and files, since a database id alone can come back after a rolled-back registration."""
    version = ModelVersion.objects.get(pk=version_id)
    return _runner(
        version.pk, version.created_at.isoformat(), json.dumps(version.artifacts, sort_keys=True)
    )


@lru_cache(maxsize=2)
def _runner(version_id: int, created_at: str, artifacts: str) -> Runner:
    version = ModelVersion.objects.get(pk=version_id)
    spec = BackboneSpec.from_dict(version.backbone)
    detector = None
    if version.detector.get("path"):
        detector = YoloDetector(
            _checked(version.detector),
            image_size=int(version.detector.get("image_size", 960)),
            config_dir=str(Path(settings.DATA_DIR) / "ultralytics"),
        )
    slugs = list(version.classes.order_by("index").values_list("taxon__slug", flat=True))
    head = (
        load_head(_checked(version.artifacts["head"]))
        if version.head_kind == HeadKind.TRAINED_HEAD
        else None
    )
    return Runner(
        spec,
        _classifier(version.artifacts, spec),
        slugs,
        version.is_zero_shot,
        detector,
        detector_name=f"yolo:{version.detector.get('sha256', '')[:12]}" if detector else "",
        head=head,
    )


def version_logits(
    version: ModelVersion, *, image_ids: list[int], features: np.ndarray, taxa: list[int]
) -> np.ndarray:
    """A version's logits for these images in the order of `taxa`: what it stored where it predicted
    the image, else its classifier run on the given pooled features (same backbone), so two versions
    are always scored on the same images."""
    from inference.selectors import reorder_logits, stored_logits

    found = stored_logits(version, image_ids, taxa)
    missing = [row for row, image_id in enumerate(image_ids) if image_id not in found]
    computed = {}
    if missing:
        order = list(version.classes.order_by("index").values_list("taxon_id", flat=True))
        raw = runner_for(version.pk).logits_from_features(features[missing])
        computed = {
            image_ids[row]: reorder_logits(values, order, taxa)
            for row, values in zip(missing, raw, strict=True)
        }
    rows = [found[i] if i in found else computed[i] for i in image_ids]
    return np.stack(rows) if rows else np.zeros((0, len(taxa)), dtype=np.float32)
