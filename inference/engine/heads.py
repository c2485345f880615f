"""Classifier heads on frozen embeddings, as trained by the training app and run here. They live on
the inference side because running a head must not depend on the code that trains it."""

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn


class Standardise(nn.Module):
    """Per-dimension centring and scaling fitted on the training embeddings; kept in the head's
    weights so that whoever loads the head gets the same input scale."""

    mean: torch.Tensor  # buffers: declared so that type checkers know them (nn.Module hides them)
    scale: torch.Tensor

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("scale", torch.ones(input_dim))

    def fit(self, features: torch.Tensor) -> None:
        """The scale has a floor (a tenth of the median spread): a dimension that barely varies on
        the training images (a ReLU unit silent on all of them) would otherwise multiply a new
        image's value by up to a million, and its weight, which never received a gradient, would
        then decide the prediction."""
        std = features.std(dim=0) if len(features) > 1 else torch.zeros(features.shape[1])
        varying = std[std > 0]
        floor = 0.1 * float(varying.median()) if len(varying) else 1.0
        self.mean.copy_(features.mean(dim=0))
        self.scale.copy_(std.clamp_min(max(floor, 1e-6)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.scale


def build_head(kind: str, input_dim: int, num_classes: int, hidden: int) -> nn.Sequential:
    if kind == "linear":
        return nn.Sequential(Standardise(input_dim), nn.Linear(input_dim, num_classes))
    if kind == "mlp":
        return nn.Sequential(
            Standardise(input_dim),
            nn.Linear(input_dim, hidden),
            nn.GELU(),
            nn.Dropout(0.2),
            nn.Linear(hidden, num_classes),
        )
    raise ValueError(f"unknown head kind {kind!r}; use 'linear' or 'mlp'")


def save_head(
    path: str,
    *,
    kind: str,
    input_dim: int,
    num_classes: int,
    hidden: int,
    state: Mapping[str, np.ndarray | torch.Tensor],
) -> None:
    torch.save(
        {
            "kind": kind,
            "input_dim": input_dim,
            "num_classes": num_classes,
            "hidden": hidden,
            "state": {k: torch.as_tensor(v) for k, v in state.items()},
        },
        path,
    )


def load_head(path: str) -> nn.Sequential:
    data = torch.load(path, map_location="cpu", weights_only=True)
    head = build_head(data["kind"], data["input_dim"], data["num_classes"], data["hidden"])
    head.load_state_dict(data["state"])
    return head.eval()


def fold_linear_head(path: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A linear head's standardisation folded into its weights, (weight, bias) such that
    weight @ x + bias == head(x): the plain linear layer other software (DeepFaune's) expects. None
    for an MLP."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if data["kind"] != "linear":
        return None
    state = data["state"]
    weight = state["1.weight"] / state["0.scale"][None, :]
    return weight, state["1.bias"] - weight @ state["0.mean"]
