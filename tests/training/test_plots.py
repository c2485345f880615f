"""The round's plots as a person reads them: the confusion matrix has a colour bar saying what its
greens mean, and no threshold label of the coverage plot covers another (their drawn boxes are
checked, not eyed)."""

import io
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.factories import assert_cells_follow, colour_bar_present  # noqa: E402
from training.engine.metrics import THRESHOLDS  # noqa: E402
from training.engine.plots import confusion_png, coverage_figure  # noqa: E402


def test_the_confusion_matrix_has_a_colour_bar_and_its_cells_still_follow_the_matrix():
    matrix = [[30, 2, 0, 1], [5, 10, 5, 0], [0, 0, 20, 3], [1, 1, 1, 9]]
    png = confusion_png(matrix, ["red deer", "roe deer", "wild boar", "fox"])
    assert colour_bar_present(png)
    assert_cells_follow(matrix, png)


def test_the_colour_bar_check_sees_a_matrix_drawn_without_one():
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.imshow(np.array([[0.9, 0.1], [0.2, 0.8]]), cmap="Greens", vmin=0, vmax=1)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110)
    plt.close(figure)
    assert not colour_bar_present(out.getvalue())


def _rows(coverage: list[float], accuracy: list[float]) -> list[dict]:
    return [
        {"threshold": t, "coverage": c, "accuracy": a}
        for t, c, a in zip(THRESHOLDS, coverage, accuracy, strict=True)
    ]


CROWDED = {
    "almost the same everywhere": _rows(
        [1.0, 0.99, 0.985, 0.98, 0.97, 0.96, 0.95], [0.40, 0.41, 0.412, 0.415, 0.42, 0.43, 0.44]
    ),
    "a flat perfect model": _rows([1.0, 1.0, 1.0, 0.98, 0.97, 0.9, 0.8], [1.0] * 7),
    "every threshold keeps the same images": _rows([1.0] * 7, [0.7] * 7),
    "a zigzag": _rows(
        [1.0, 0.9, 0.91, 0.89, 0.9, 0.88, 0.87], [0.5, 0.52, 0.51, 0.53, 0.52, 0.54, 0.53]
    ),
}


def _label_boxes(rows: list[dict]) -> tuple[list[str], list]:
    figure = coverage_figure(rows)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [text for text in figure.axes[0].texts]
    boxes = [text.get_window_extent(renderer) for text in texts]
    labels = [text.get_text() for text in texts]
    plt.close(figure)
    return labels, boxes


@pytest.mark.parametrize("case", list(CROWDED))
def test_no_threshold_label_covers_another(case):
    labels, boxes = _label_boxes(CROWDED[case])
    for (a, box_a), (b, box_b) in itertools.combinations(zip(labels, boxes, strict=True), 2):
        assert not box_a.overlaps(box_b), f"{a!r} covers {b!r} in {case}"
    named = (
        set()
    )  # every threshold is still named, alone or in the range of thresholds sharing its point
    for label in labels:
        low, _, high = label.partition("–")
        named |= {t for t in THRESHOLDS if float(low) <= t <= float(high or low)}
    assert named == set(THRESHOLDS)


def test_random_curves_never_overlap_their_labels():
    rng = np.random.default_rng(7)
    for _ in range(15):
        coverage = np.sort(rng.uniform(0.8, 1.0, size=7))[::-1]
        accuracy = np.sort(rng.uniform(0.5, 0.56, size=7))
        labels, boxes = _label_boxes(_rows(coverage.round(3).tolist(), accuracy.round(3).tolist()))
        for box_a, box_b in itertools.combinations(boxes, 2):
            assert not box_a.overlaps(box_b), labels
