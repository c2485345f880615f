"""Training engine on small arrays: splits, heads, calibration, metrics, plots. No database."""

import numpy as np
import pytest

from tests.factories import assert_cells_follow, confusion_cell_brightness, png_pixels
from training.engine.heads import (
    HeadConfig,
    TrainingCancelled,
    fit_temperature,
    head_logits,
    train_head,
)
from training.engine.metrics import evaluate, macro_f1, sequence_accuracy
from training.engine.plots import confusion_png, coverage_png, reliability_png
from training.engine.splits import (
    HOLDOUT,
    TEST,
    TRAIN,
    VALIDATION,
    SplitRule,
    assign_split,
    stable_fraction,
)


def test_split_is_stable_and_roughly_proportioned():
    sides = [assign_split(f"seq-{i}", f"cam-{i % 50}") for i in range(20000)]
    shares = {side: sides.count(side) / len(sides) for side in (TRAIN, VALIDATION, TEST, HOLDOUT)}
    assert all(shares[side] > 0 for side in shares)
    in_sample = [s for s in sides if s != HOLDOUT]
    assert abs(in_sample.count(TEST) / len(in_sample) - 0.15) < 0.02


def test_a_sequence_keeps_its_side_on_every_machine_and_in_every_year():
    """Pinned values: if these move, versions trained before and after are no longer scored on the
    same test sequences (change the salt deliberately, never by accident)."""
    assert stable_fraction("sequence:seq-0", "faune-split-v1") == pytest.approx(0.1981995492629335)
    assert [assign_split(f"seq-{i}", None) for i in range(8)] == [
        "validation",
        "train",
        "train",
        "validation",
        "test",
        "train",
        "test",
        "test",
    ]
    assert [assign_split(f"seq-{i}", f"cam-{i}") for i in range(4)] == [
        "validation",
        "train",
        "holdout",
        "holdout",
    ]


def test_whole_cameras_are_held_out_together():
    rule = SplitRule(holdout_deployment_fraction=0.5)
    held = {cam for cam in range(40) if stable_fraction(f"deployment:{cam}", rule.salt) < 0.5}
    for i in range(2000):
        side = assign_split(f"s{i}", str(i % 40), rule)
        assert (side == HOLDOUT) == (i % 40 in held)


def _blobs(n: int, classes: int, seed: int = 0, spread: float = 0.6):
    """Gaussian blobs around fixed centres (the same centres for every seed, so splits
    share classes)."""
    centres = np.random.default_rng(123).normal(size=(classes, 16))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(scale=spread, size=(n, 16))).astype(np.float32), y


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_head_learns_separable_classes_and_is_deterministic(kind):
    train, val = _blobs(600, 4), _blobs(200, 4, seed=1)
    config = HeadConfig(kind=kind, hidden=32, epochs=30, batch_size=64, seed=3)
    head = train_head(train, val, 4, config)
    again = train_head(train, val, 4, config)
    assert macro_f1(val[1], head_logits(head, val[0]).argmax(1)) > 0.9
    assert np.allclose(head_logits(head, val[0]), head_logits(again, val[0]))
    assert head.best_epoch >= 1 and head.history[0]["epoch"] == 1


def test_class_weights_help_the_rare_class():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (950, 8)), rng.normal(1.2, 1, (50, 8))]).astype(np.float32)
    y = np.array([0] * 950 + [1] * 50)
    val_x = np.concatenate([rng.normal(0, 1, (200, 8)), rng.normal(1.2, 1, (200, 8))]).astype(
        np.float32
    )
    val_y = np.array([0] * 200 + [1] * 200)
    recall = {}
    for scheme in ("none", "inverse"):
        head = train_head(
            (x, y), (val_x, val_y), 2, HeadConfig(epochs=40, batch_size=128, class_weighting=scheme)
        )
        recall[scheme] = (head_logits(head, val_x)[200:].argmax(1) == 1).mean()
    assert recall["inverse"] > recall["none"]


def test_cancellation_stops_training():
    train = _blobs(100, 2)
    with pytest.raises(TrainingCancelled):
        train_head(train, train, 2, HeadConfig(epochs=5), should_stop=lambda: True)


def test_temperature_softens_overconfident_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    logits = rng.normal(size=(3000, 3))
    logits[np.arange(3000), labels] += 1.0
    assert fit_temperature(logits * 5, labels) > 2.0


def test_evaluation_figures():
    y = np.array([0, 0, 1, 1, 2])
    logits = np.array([[5, 0, 0], [0, 5, 0], [0, 5, 0], [0, 5, 0], [0, 0, 5]], dtype=np.float32)
    report = evaluate(y, logits, ["a", "b", "c"], sequence_ids=np.array([1, 1, 2, 2, 3]))
    assert report["accuracy"] == 0.8 and report["confusion"][0] == [1, 1, 0]
    assert report["per_class"][0] == {
        "class": "a",
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.6667,
        "support": 2,
    }
    assert report["coverage"][0]["coverage"] == 1.0 and 0 <= report["ece"] <= 1
    assert (
        report["sequence_accuracy"] == 1.0
    )  # sequence 1 sums to a tie, which argmax gives to "a": right


def test_sequence_accuracy_averages_frames():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    assert sequence_accuracy(np.array([0, 0, 1]), logits, np.array([7, 7, 9])) == 1.0


def test_plots_are_pictures_of_their_figures():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), labels] += 1.5
    report = evaluate(labels, logits, ["a", "b", "c"])
    for png in (
        confusion_png(report["confusion"], ["a", "b", "c"]),
        reliability_png(report["reliability"], 0.1),
        coverage_png(report["coverage"]),
    ):
        png_pixels(png)  # decodes, plausible size, many colours, coloured ink beyond axes and text
    assert_cells_follow(report["confusion"], confusion_png(report["confusion"], ["a", "b", "c"]))


@pytest.mark.parametrize(
    "matrix", [[[5, 0], [0, 5]], [[0, 5], [5, 0]], [[3, 2], [1, 4]], [[9, 1], [6, 4]]]
)
def test_confusion_plot_cells_show_their_matrix(matrix):
    assert_cells_follow(matrix, confusion_png(matrix, ["a", "b"]))


def test_different_matrices_draw_different_cells():
    def cells(matrix: list[list[int]]) -> np.ndarray:
        return confusion_cell_brightness(confusion_png(matrix, ["a", "b"]), 2)

    right, swapped = cells([[5, 0], [0, 5]]), cells([[0, 5], [5, 0]])
    assert (
        right == cells([[5, 0], [0, 5]])
    ).all()  # drawing is deterministic: differences come from the matrix
    assert np.abs(right - swapped).min() > 100  # every cell changed


@pytest.mark.slow
def test_finetune_runs_a_tiny_model_on_cpu(tmp_path):
    from PIL import Image as PILImage

    from faune_platform.boxes import Box
    from inference.engine.backbones import create_timm_model
    from inference.engine.preprocess import CropRequest
    from inference.engine.specs import BackboneSpec
    from training.engine.finetune import FinetuneConfig, finetune

    spec = BackboneSpec(timm_name="resnet10t", input_size=32)
    items, labels = [], []
    for index in range(16):
        path = tmp_path / f"{index}.jpg"
        PILImage.new("RGB", (64, 48), (250, 10, 10) if index % 2 else (10, 10, 250)).save(path)
        items.append(CropRequest(str(path), Box(0.1, 0.1, 0.5, 0.5) if index % 4 == 0 else None))
        labels.append(index % 2)
    model = create_timm_model(spec, num_classes=2)
    state, epoch = finetune(
        model,
        spec,
        (items, np.array(labels)),
        (items, np.array(labels)),
        FinetuneConfig(epochs=3, batch_size=8, learning_rate=1e-3, workers=0),
    )
    assert 1 <= epoch <= 3 and set(state) == set(model.state_dict())


def test_a_dimension_silent_in_training_does_not_blow_up_a_new_image():
    """ReLU features that are zero on every training image must not be scaled by a million
    at prediction."""
    import torch

    from inference.engine.heads import Standardise

    features = torch.rand(50, 8)
    features[:, 3] = 0.0
    layer = Standardise(8)
    layer.fit(features)
    fresh = torch.rand(1, 8)
    assert float(layer(fresh).abs().max()) < 100


def test_a_head_trains_when_its_validation_split_is_empty():
    """A round with few sequences may leave none for validation (found on PostgreSQL, whose ids
    split the sequences otherwise): it trains, scores 0 there and keeps temperature 1."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 16)).astype(np.float32)
    labels = np.arange(40) % 2
    empty = (np.zeros((0, 16), dtype=np.float32), np.zeros(0, dtype=np.int64))
    head = train_head((features, labels), empty, 2, HeadConfig(epochs=3))
    assert head.temperature == 1.0
