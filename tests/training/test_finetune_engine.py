"""The fine-tune engine learns: a tiny timm model, trained by `finetune` on a toy set that only
orientation separates, ends up right on held-out images where the untrained model is at chance. On
the CPU in seconds; the same check on CUDA where a GPU exists."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.engine.backbones import create_timm_model
from inference.engine.preprocess import CropRequest, load_crop
from inference.engine.specs import BackboneSpec
from training.engine.finetune import FinetuneConfig, finetune

SPEC = BackboneSpec(timm_name="resnet10t", input_size=32)
CONFIG = FinetuneConfig(epochs=6, batch_size=8, learning_rate=1e-3, workers=0)


def _bars(folder: Path, count: int, seed: int) -> tuple[list[CropRequest], np.ndarray]:
    """32x32 images of bars in a random colour, width and phase: horizontal (class 0) or
    vertical (class 1). Colour says nothing about the class, and the engine's flips and crops
    keep orientation."""
    rng = np.random.default_rng(seed)
    items, labels = [], []
    for index in range(count):
        label = index % 2
        pixels = np.empty((32, 32, 3))
        pixels[:] = rng.integers(0, 40, size=3)
        period = int(rng.integers(6, 10))
        on = (np.arange(32) + rng.integers(0, period)) % period < period // 2
        if label == 0:
            pixels[on, :, :] = rng.integers(60, 256, size=3)
        else:
            pixels[:, on, :] = rng.integers(60, 256, size=3)
        pixels = np.clip(pixels + rng.normal(0, 15, size=pixels.shape), 0, 255).astype(np.uint8)
        path = folder / f"{seed}-{index}.png"
        Image.fromarray(pixels).save(path)
        items.append(CropRequest(str(path), None))
        labels.append(label)
    return items, np.array(labels)


def _accuracy(model: torch.nn.Module, data: tuple[list[CropRequest], np.ndarray]) -> float:
    pixels = torch.stack([load_crop(item, SPEC) for item in data[0]])
    with torch.inference_mode():
        return float((model.eval()(pixels).argmax(1).numpy() == data[1]).mean())


def _learns_the_bars(tmp_path: Path, expected_device: str) -> None:
    train, validation = _bars(tmp_path, 48, seed=0), _bars(tmp_path, 24, seed=1)
    torch.manual_seed(0)
    model = create_timm_model(SPEC, num_classes=2)
    untrained = create_timm_model(SPEC, num_classes=2)
    untrained.load_state_dict(model.state_dict())
    seen = set()  # (device of the weights, device of the batch) at every training step

    def record(module, args) -> None:
        if module.training:
            seen.add((next(module.parameters()).device.type, args[0].device.type))

    model.register_forward_pre_hook(record)
    history = []
    state, epoch = finetune(model, SPEC, train, validation, CONFIG, on_epoch=history.append)
    assert seen == {(expected_device, expected_device)}
    assert [row["epoch"] for row in history] == list(
        range(1, CONFIG.epochs + 1)
    ) and 1 <= epoch <= CONFIG.epochs
    assert all(
        tensor.device.type == "cpu" for tensor in state.values()
    )  # the kept state is on the CPU
    learned = create_timm_model(SPEC, num_classes=2)
    learned.load_state_dict(state)
    assert _accuracy(untrained, validation) < 0.75  # the task is not solved before training
    assert _accuracy(learned, validation) >= 0.95


def test_finetune_learns_a_separable_toy_set_on_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(
        torch.cuda, "is_available", lambda: False
    )  # the CPU path, even on a GPU machine
    _learns_the_bars(tmp_path, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is false"
)
def test_finetune_trains_on_the_gpu_and_learns_the_toy_set(tmp_path):
    _learns_the_bars(tmp_path, "cuda")
