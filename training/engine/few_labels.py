"""Learning from few labels: a prototype head (the nearest class mean) against the trained linear
head, chosen by cross-validation over sequences while labels are few.

With a handful of sequences per class a linear layer has more weights than evidence, and the class
means in the standardised space often generalise better; with more labels the trained layer wins.
Which regime a pool is in depends on its features and classes, so it is measured, never assumed: the
labelled set is split by sequence (frames of one burst never sit on both sides) and both learners
are scored out of fold. The prototype head is a linear head in disguise (logit_c = z . m_c - |m_c|^2
/ 2), so it is saved, loaded, folded and run like one."""

from collections.abc import Callable
from dataclasses import replace
from typing import Unpack

import numpy as np
import torch

from inference.engine.heads import Standardise
from training.engine.heads import (
    HeadConfig,
    Hooks,
    TrainedHead,
    TrainingCancelled,
    fit_temperature,
    head_logits,
    train_head,
)
from training.engine.metrics import macro_f1

CHOICE_LIMIT = (
    5_000  # training images up to which the prototype head competes; past it, the trained head
)
FOLDS = 4
ABSENT = -1e4  # the logit of a class with no training image


def prototype_head(features: np.ndarray, labels: np.ndarray, num_classes: int) -> TrainedHead:
    standardise = Standardise(features.shape[1])
    standardise.fit(torch.tensor(features, dtype=torch.float32))
    z = standardise(torch.tensor(features, dtype=torch.float32)).numpy()
    means = np.zeros((num_classes, features.shape[1]), dtype=np.float32)
    bias = np.full(num_classes, ABSENT, dtype=np.float32)
    for label in np.unique(labels):
        means[label] = z[labels == label].mean(axis=0)
        bias[label] = -0.5 * float(means[label] @ means[label])
    state = {
        "0.mean": standardise.mean.numpy(),
        "0.scale": standardise.scale.numpy(),
        "1.weight": means,
        "1.bias": bias,
    }
    return TrainedHead(
        "linear", features.shape[1], num_classes, 0, state, 1.0, 0, [], learner="prototype"
    )


def _folds(groups: np.ndarray, seed: int) -> list[np.ndarray]:
    """Test masks of FOLDS folds over whole groups (sequences), in a seeded order."""
    keys = np.random.default_rng(seed).permutation(np.unique(groups))
    count = min(FOLDS, len(keys))
    return [np.isin(groups, keys[number::count]) for number in range(count)]


def _out_of_fold(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    num_classes: int,
    config: HeadConfig,
    should_stop: Callable[[], bool] | None,
) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Out-of-fold logits of each learner for every labelled image, and the folds' test masks."""
    found = {
        name: np.zeros((len(labels), num_classes), dtype=np.float32)
        for name in ("linear", "prototype")
    }
    folds = _folds(groups, config.seed)
    for test in folds:
        if should_stop and should_stop():
            raise TrainingCancelled("the round was cancelled")
        train = (features[~test], labels[~test])
        linear = train_head(
            train, train, num_classes, replace(config, kind="linear", calibrate=False)
        )
        found["linear"][test] = head_logits(linear, features[test])
        found["prototype"][test] = head_logits(prototype_head(*train, num_classes), features[test])
    return found, folds


def _prototypes_clearly_better(
    scored: dict[str, np.ndarray], labels: np.ndarray, folds: list[np.ndarray]
) -> bool:
    """The prototypes win only when their per-fold macro-F1 gain over the trained head exceeds its
    own standard error: with a few labels the folds are noisy, and a tie goes to the head that
    scales to many labels."""
    gains = np.array(
        [
            macro_f1(labels[test], scored["prototype"][test].argmax(axis=1))
            - macro_f1(labels[test], scored["linear"][test].argmax(axis=1))
            for test in folds
        ]
    )
    error = gains.std(ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else np.inf
    return bool(gains.mean() > error)


def choose_and_train(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: HeadConfig,
    groups: np.ndarray | None,
    **hooks: Unpack[Hooks],
) -> TrainedHead:
    """The learner that scores clearly better out of fold on the training labels, trained on all of
    them. The prototype head's temperature is fitted on its out-of-fold logits: they were not
    seen."""
    features, labels = train
    linear_config = replace(config, kind="linear")
    if groups is None or len(labels) > CHOICE_LIMIT or len(np.unique(groups)) < 2:
        return replace(
            train_head(train, validation, num_classes, linear_config, **hooks), learner="linear"
        )
    scored, folds = _out_of_fold(
        features, labels, groups, num_classes, linear_config, hooks.get("should_stop")
    )
    f1 = {name: macro_f1(labels, logits.argmax(axis=1)) for name, logits in scored.items()}
    if not _prototypes_clearly_better(scored, labels, folds):
        head = train_head(train, validation, num_classes, linear_config, **hooks)
        return replace(head, learner="linear", history=[{"cross_validated": f1}, *head.history])
    head = prototype_head(features, labels, num_classes)
    return replace(
        head,
        temperature=fit_temperature(scored["prototype"], labels),
        history=[{"cross_validated": f1}],
    )


def learn_head(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    config: HeadConfig,
    *,
    groups: np.ndarray | None = None,
    **hooks: Unpack[Hooks],
) -> TrainedHead:
    """The one entry point rounds and simulations train through: `auto` chooses, the others are
    trained as named. `groups` (the sequence of each training image) keeps bursts on one side of
    the cross-validation."""
    if config.kind == "auto":
        return choose_and_train(train, validation, num_classes, config, groups, **hooks)
    return train_head(train, validation, num_classes, config, **hooks)
