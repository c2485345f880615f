"""Evaluation plots as PNG bytes (matplotlib without a display)."""

import io
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backend_bases import RendererBase  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def confusion_png(matrix: list[list[int]], class_names: list[str]) -> bytes:
    values = np.array(matrix, dtype=np.float64)
    rows = values / np.clip(values.sum(axis=1, keepdims=True), 1, None)  # recall per true class
    size = max(4.0, 0.32 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(rows, cmap="Greens", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=7)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true (row-normalised)")
    bar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    bar.set_label("share of the true class's images", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return _png(figure)


def reliability_png(bins: list[dict[str, Any]], ece: float) -> bytes:
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axes.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=[b["high"] - b["low"] for b in bins],
        edgecolor="black",
        color="#7fb58a",
    )
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"reliability (ECE {ece:.3f})")
    return _png(figure)


# Where a threshold's label may go, in points from its marker, tried in this order until it
# overlaps nothing.
LABEL_OFFSETS = [
    (dx * r, dy * r)
    for r in (1, 2, 3, 4, 6)
    for dx, dy in ((5, 4), (5, -10), (-26, 4), (-26, -10), (0, 12), (0, -18), (12, -3), (-34, -3))
]


def _threshold_labels(kept: list[dict[str, Any]]) -> list[tuple[str, tuple[float, float]]]:
    """One label per drawn point: thresholds that keep the same images share a point, and so
    one label."""
    points: dict[tuple[float, float], list[float]] = {}
    for row in kept:
        points.setdefault((row["coverage"], row["accuracy"]), []).append(row["threshold"])
    return [
        (f"{min(ts):.2f}–{max(ts):.2f}" if len(ts) > 1 else f"{ts[0]:.2f}", point)
        for point, ts in points.items()
    ]


def _place(text: Annotation, placed: list[Bbox], renderer: RendererBase) -> None:
    """Move the label to the first offset where its box meets no label already placed."""
    for offset in LABEL_OFFSETS:
        text.xyann = offset
        box = text.get_window_extent(renderer).expanded(1.05, 1.15)
        if not any(box.overlaps(other) for other in placed):
            break
    placed.append(text.get_window_extent(renderer))


def coverage_figure(rows: list[dict[str, Any]]) -> Figure:
    """The coverage/accuracy curve with each threshold labelled where no label hides another (tests
    read the labels' boxes off the returned figure)."""
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    kept = [r for r in rows if r["accuracy"] is not None]
    axes.plot([r["coverage"] for r in kept], [r["accuracy"] for r in kept], marker="o")
    axes.set_xlabel("coverage (share not 'undefined')")
    axes.set_ylabel("accuracy of what is kept")
    axes.set_title("labels: 'undefined' threshold", fontsize=8)
    figure.canvas.draw()  # fixes the axes' limits, so that label boxes are where they will be drawn
    renderer = cast(FigureCanvasAgg, figure.canvas).get_renderer()  # the Agg backend, chosen above
    placed: list[Bbox] = []
    for label, point in _threshold_labels(kept):
        text = axes.annotate(
            label, point, xytext=LABEL_OFFSETS[0], textcoords="offset points", fontsize=7
        )
        _place(text, placed, renderer)
    return figure


def coverage_png(rows: list[dict[str, Any]]) -> bytes:
    return _png(coverage_figure(rows))


def learning_curves_png(
    rows: list[dict[str, Any]], *, target_f1: float, unit: str = "sequence"
) -> bytes:
    """Accuracy and macro-F1 against expert actions: per strategy the mean over seeds, shaded one
    standard deviation either side; the macro-F1 target dashed. `rows`: strategy, actions and the
    mean/std of each metric."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for strategy in dict.fromkeys(row["strategy"] for row in rows):
        curve = [row for row in rows if row["strategy"] == strategy]
        actions = [row["actions"] for row in curve]
        for axes, metric in zip(panels, ("accuracy", "macro_f1"), strict=True):
            mean = np.array([row[f"{metric}_mean"] for row in curve])
            spread = np.array([row[f"{metric}_std"] for row in curve])
            (line,) = axes.plot(actions, mean, label=strategy, linewidth=1.5)
            axes.fill_between(
                actions, mean - spread, mean + spread, color=line.get_color(), alpha=0.15
            )
    panels[1].axhline(
        target_f1, color="grey", linestyle="--", linewidth=1, label="90% of full pool"
    )
    for axes, title in zip(panels, ("accuracy", "macro-F1"), strict=True):
        axes.set_xlabel(
            "labelled sequences (expert actions)" if unit == "sequence" else "labelled images"
        )
        axes.set_ylabel(title)
        axes.grid(alpha=0.3)
    panels[1].legend(fontsize=8)
    return _png(figure)
