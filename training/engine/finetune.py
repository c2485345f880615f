"""Full fine-tuning of a backbone with timm and augmentation: the optional job for a worker with a
GPU (it also runs on a CPU, slowly, which is how the tests run it on a tiny model). Square crops of
the labelled boxes, as in pre-labelling; random resized crops, flips and colour jitter; AdamW with a
cosine schedule; the best epoch on validation macro-F1 is kept."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from inference.engine.preprocess import CropRequest, crop_image, load_crop
from inference.engine.specs import BackboneSpec
from training.engine.heads import TrainingCancelled
from training.engine.metrics import macro_f1


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.05
    seed: int = 0
    workers: int = 2


class CropDataset(Dataset[tuple[torch.Tensor, int]]):
    def __init__(
        self, items: list[CropRequest], labels: np.ndarray, spec: BackboneSpec, train: bool
    ) -> None:
        self.items, self.labels, self.spec, self.train = items, labels, spec, train
        self.augment = transforms.Compose(
            [
                transforms.RandomResizedCrop(spec.input_size, scale=(0.6, 1.0), antialias=True),
                transforms.RandomHorizontalFlip(),
                transforms.ColorJitter(0.3, 0.3, 0.2),
                transforms.ToTensor(),
                transforms.Normalize(spec.mean, spec.std),
            ]
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        if not self.train:
            return load_crop(item, self.spec), int(self.labels[index])
        # The same upright, square crop as evaluation and pre-labelling see; only the
        # augmentation differs.
        return self.augment(crop_image(item, self.spec)), int(self.labels[index])


def _evaluate(
    model: nn.Module, loader: DataLoader[tuple[torch.Tensor, int]], device: str
) -> tuple[float, np.ndarray]:
    model.eval()
    predictions, truth = [], []
    with torch.no_grad():
        for pixels, labels in loader:
            predictions.append(model(pixels.to(device)).argmax(1).cpu().numpy())
            truth.append(labels.numpy())
    y_true, y_pred = np.concatenate(truth), np.concatenate(predictions)
    return macro_f1(y_true, y_pred), y_pred


def finetune(
    model: nn.Module,
    spec: BackboneSpec,
    train: tuple[list[CropRequest], np.ndarray],
    validation: tuple[list[CropRequest], np.ndarray],
    config: FinetuneConfig = FinetuneConfig(),  # noqa: B008 frozen
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[dict[str, torch.Tensor], int]:
    """Train every weight of `model` (whose head already has the right class count); return the best
    state dict (on the CPU) and its epoch."""
    torch.manual_seed(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    loader = DataLoader(
        CropDataset(*train, spec, train=True),
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=config.workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    val_loader = DataLoader(
        CropDataset(*validation, spec, train=False),
        batch_size=config.batch_size,
        num_workers=config.workers,
    )
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps = max(1, config.epochs * math.ceil(len(train[1]) / config.batch_size))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps))
    )
    best_score, best_epoch = -1.0, 0
    best_state: dict[str, torch.Tensor] | None = None
    for epoch in range(1, config.epochs + 1):
        model.train()
        for pixels, labels in loader:
            if should_stop and should_stop():
                raise TrainingCancelled("the round was cancelled")
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(pixels.to(device)), labels.to(device))
            loss.backward()
            optimiser.step()
            schedule.step()
        score, _ = _evaluate(model, val_loader, device)
        if on_epoch:
            on_epoch(
                {
                    "epoch": epoch,
                    "loss": round(float(loss.detach()), 5),
                    "val_macro_f1": round(score, 5),
                }
            )
        if score > best_score:
            best_score, best_epoch = score, epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if best_state is None:
        raise ValueError("fine-tuning needs at least one epoch")
    return best_state, best_epoch
