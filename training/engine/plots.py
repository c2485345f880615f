"""Evaluation plots as PNG bytes (matplotlib without a display)."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def confusion_png(matrix: list[list[int]], class_names: list[str]) -> bytes:
    values = np.array(matrix, dtype=np.float64)
    rows = values / np.clip(values.sum(axis=1, keepdims=True), 1, None)  # recall per true class
    size = max(4.0, 0.32 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(rows, cmap="Greens", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=7)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true (row-normalised)")
    return _png(figure)


def reliability_png(bins: list[dict], ece: float) -> bytes:
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axes.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins],
             width=[b["high"] - b["low"] for b in bins], edgecolor="black", color="#7fb58a")
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"reliability (ECE {ece:.3f})")
    return _png(figure)


def coverage_png(rows: list[dict]) -> bytes:
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    kept = [r for r in rows if r["accuracy"] is not None]
    axes.plot([r["coverage"] for r in kept], [r["accuracy"] for r in kept], marker="o")
    for row in kept:
        axes.annotate(f"{row['threshold']:.2f}", (row["coverage"], row["accuracy"]), fontsize=7)
    axes.set_xlabel("coverage (share not 'undefined')")
    axes.set_ylabel("accuracy of what is kept")
    return _png(figure)


def learning_curves_png(rows: list[dict], *, target_f1: float, unit: str = "sequence") -> bytes:
    """Accuracy and macro-F1 against expert actions: per strategy the mean over seeds, shaded one standard
    deviation either side; the macro-F1 target dashed. `rows`: strategy, actions and the mean/std of each metric."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for strategy in dict.fromkeys(row["strategy"] for row in rows):
        curve = [row for row in rows if row["strategy"] == strategy]
        actions = [row["actions"] for row in curve]
        for axes, metric in zip(panels, ("accuracy", "macro_f1"), strict=True):
            mean = np.array([row[f"{metric}_mean"] for row in curve])
            spread = np.array([row[f"{metric}_std"] for row in curve])
            line, = axes.plot(actions, mean, label=strategy, linewidth=1.5)
            axes.fill_between(actions, mean - spread, mean + spread, color=line.get_color(), alpha=0.15)
    panels[1].axhline(target_f1, color="grey", linestyle="--", linewidth=1, label="90% of full pool")
    for axes, title in zip(panels, ("accuracy", "macro-F1"), strict=True):
        axes.set_xlabel("labelled sequences (expert actions)" if unit == "sequence" else "labelled images")
        axes.set_ylabel(title)
        axes.grid(alpha=0.3)
    panels[1].legend(fontsize=8)
    return _png(figure)
