"""A version's weights in timm's own layout, for whoever runs a release outside Faune:
`timm.create_model(name, num_classes=n, **spec.timm_kwargs())` then `load_state_dict`. No
Django here."""

import copy
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from inference.engine.backbones import EmbeddingClassifier, timm_interface
from inference.engine.heads import fold_linear_head

CLASSES = "classes"  # the model's outputs are the version's classes
FEATURES = "features"  # pooled features (num_classes 0): a separate MLP head gives the classes
IMAGENET = (
    "imagenet"  # ImageNet's 1,000 classes, summed onto taxa by a table (the zero-shot version)
)


@dataclass(frozen=True)
class TimmExport:
    state_dict: dict[str, torch.Tensor]
    num_classes: int
    outputs: str


def timm_export(
    classifier: EmbeddingClassifier, *, head_path: str | None, zero_shot: bool
) -> TimmExport:
    """The backbone with its classifier as the version runs it. A linear head (prototype heads
    are stored as one) is folded into timm's classifier layer, so the plain timm model gives
    the version's logits; an MLP head cannot be, and stays a file of its own beside the
    backbone's features."""
    module = copy.deepcopy(classifier.model)  # never touch the worker's cached model
    model = timm_interface(module)
    if head_path is None:
        return TimmExport(
            module.state_dict(), int(model.num_classes), IMAGENET if zero_shot else CLASSES
        )
    folded = fold_linear_head(head_path)
    if folded is None:
        model.reset_classifier(0)
        return TimmExport(module.state_dict(), 0, FEATURES)
    weight, bias = folded
    model.reset_classifier(int(weight.shape[0]))
    layer = cast(nn.Linear, model.get_classifier())  # timm's classifier once reset to n > 0 classes
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return TimmExport(module.state_dict(), int(weight.shape[0]), CLASSES)
