"""Heads on frozen embeddings: a linear layer or a small MLP, class-weighted for the long tail,
stopped early on validation macro-F1, then calibrated with one temperature fitted on validation.
Deterministic for a seed."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

import numpy as np
import torch
from torch import nn

from inference.engine.heads import Standardise, build_head
from training.engine.metrics import macro_f1


@dataclass(frozen=True)
class HeadConfig:
    # "linear", "mlp", or "auto": linear or prototype, chosen by cross-validation (few_labels)
    kind: str = "linear"
    hidden: int = 512
    epochs: int = 60
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 6
    seed: int = 0
    class_weighting: str = "inverse_sqrt"  # "none", "inverse_sqrt" or "inverse"
    calibrate: bool = (
        True  # fit a temperature on validation (simulations with no validation to spare skip it)
    )


@dataclass
class TrainedHead:
    kind: str
    input_dim: int
    num_classes: int
    hidden: int
    state: dict[str, np.ndarray]
    temperature: float
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)
    learner: str = (
        ""  # "linear", "mlp" or "prototype" (a prototype head is stored as the linear head it is)
    )


class TrainingCancelled(Exception):
    pass


class Hooks(TypedDict, total=False):
    """What a caller may hook into training: a report after each epoch, and a question asked before
    each batch (True stops the training with TrainingCancelled)."""

    on_epoch: Callable[[dict[str, Any]], None] | None
    should_stop: Callable[[], bool] | None


def class_weights(labels: np.ndarray, num_classes: int, scheme: str) -> torch.Tensor:
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    if scheme == "none":
        weights = np.ones(num_classes)
    else:
        power = 0.5 if scheme == "inverse_sqrt" else 1.0
        weights = np.where(counts > 0, 1.0 / np.maximum(counts, 1) ** power, 0.0)
    weights *= num_classes / max(weights.sum(), 1e-12)
    return torch.tensor(weights, dtype=torch.float32)


def _logits(model: nn.Module, features: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    model.eval()
    # at least one (maybe empty) slice: a round whose few sequences left the validation split
    # empty still trains (its score is 0, its temperature 1)
    starts = range(0, max(len(features), 1), batch)
    with torch.no_grad():
        return torch.cat([model(features[i : i + batch]) for i in starts])


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation negative log-likelihood (one scalar, so it cannot
    overfit much)."""
    if len(labels) == 0:
        return 1.0
    values, targets = torch.tensor(logits, dtype=torch.float32), torch.tensor(labels)
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(values / log_t.exp(), targets)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


MIN_STEPS_PER_EPOCH = 16


def _batch_size(count: int, largest: int) -> int:
    """Small enough for a few dozen labels to take several optimiser steps an epoch (one full
    batch an epoch leaves a head on few labels barely trained when early stopping ends it), never
    past `largest`."""
    return int(np.clip(count // MIN_STEPS_PER_EPOCH, 32, largest))


def train_head(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: HeadConfig = HeadConfig(),  # noqa: B008 frozen
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainedHead:
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    features, labels = (
        torch.tensor(train[0], dtype=torch.float32),
        torch.tensor(train[1], dtype=torch.long),
    )
    val_features = torch.tensor(validation[0], dtype=torch.float32)
    model = build_head(config.kind, features.shape[1], num_classes, config.hidden)
    cast(Standardise, model[0]).fit(features)  # build_head puts the standardisation first
    loss_fn = nn.CrossEntropyLoss(
        weight=class_weights(train[1], num_classes, config.class_weighting)
    )
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    history, stale = [], 0
    batch_size = _batch_size(len(features), config.batch_size)
    for epoch in range(1, config.epochs + 1):
        if should_stop and should_stop():
            raise TrainingCancelled("the round was cancelled")
        model.train()
        for batch in torch.randperm(len(features), generator=generator).split(batch_size):
            optimiser.zero_grad()
            loss = loss_fn(model(features[batch]), labels[batch])
            loss.backward()
            optimiser.step()
        val_logits = _logits(model, val_features).numpy()
        score = macro_f1(validation[1], val_logits.argmax(1)) if len(validation[1]) else 0.0
        history.append(
            {
                "epoch": epoch,
                "loss": round(float(loss.detach()), 5),
                "val_macro_f1": round(score, 5),
            }
        )
        if on_epoch:
            on_epoch(history[-1])
        if score > best[0] + 1e-4:
            best, stale = (score, epoch, {k: v.clone() for k, v in model.state_dict().items()}), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best[2])
    temperature = (
        fit_temperature(_logits(model, val_features).numpy(), validation[1])
        if config.calibrate
        else 1.0
    )
    return TrainedHead(
        config.kind,
        features.shape[1],
        num_classes,
        config.hidden,
        {k: v.numpy() for k, v in model.state_dict().items()},
        temperature,
        best[1],
        history,
        learner=config.kind,
    )


def head_module(head: TrainedHead) -> nn.Module:
    model = build_head(head.kind, head.input_dim, head.num_classes, head.hidden)
    model.load_state_dict({k: torch.tensor(v) for k, v in head.state.items()})
    return model.eval()


def head_logits(head: TrainedHead, features: np.ndarray) -> np.ndarray:
    return _logits(head_module(head), torch.tensor(features, dtype=torch.float32)).numpy()
