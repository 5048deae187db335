"""Figures as PNG: line plots of (step, value) series against the training step, and a
labeled confusion matrix.

Used by `convnet.reports.run_report` and `convnet.reports.comparison` (line plots) and
`convnet.evaluation.confusion` (the confusion matrix). matplotlib (the Agg backend, no
display needed) is an optional extra (`convnet[plots]`), imported on the first
figure: without it, a figure is an error that says how to install it.
"""

import io
from collections.abc import Sequence

import numpy as np

from convnet.runtime.errors import ConvnetError

Series = list[tuple[int, float]]  # (step, value) pairs, by step: one line of a plot


def _matplotlib() -> None:
    """Imports matplotlib on the Agg backend; a ConvnetError naming the extra when it is missing."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ConvnetError(f"plots need matplotlib ({e}): pip install 'convnet[plots]'") from e
    matplotlib.use("Agg")


def plot_lines(lines: dict[str, Series], ylabel: str, path: str,
               *, marker: str | None = None, xlabel: str = "training step") -> None:
    """One figure of several (x, value) series ({label: series}) against `xlabel` (the
    training step), written to `path` as PNG; `marker`: a matplotlib marker on each point
    (e.g. "o")."""
    _matplotlib()
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, series in lines.items():
        steps, values = zip(*series, strict=True) if series else ((), ())
        axes.plot(steps, values, marker=marker, label=label)
    axes.set_xlim(left=0)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if lines:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def confusion_figure(counts, class_names: Sequence[str]):
    """A matplotlib Figure of the confusion matrix `counts` [true, predicted]: each cell
    shaded by its share of its row (white none, dark blue all: the diagonal is each class's
    recall), its count written in it, the class names along both axes.

    Built on `matplotlib.figure.Figure`, not pyplot: no global state, safe beside a
    training loop's threads.
    """
    _matplotlib()
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
    counts = np.asarray(counts, np.int64)
    classes = len(class_names)
    if counts.shape != (classes, classes):
        raise ValueError(f"counts of shape {counts.shape} for {classes} class names")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = 2.0 + 0.45 * classes  # inches: about 45 pixels a cell at 100 dpi
    figure = Figure(figsize=(side + 1.0, side))
    axes = figure.add_subplot()
    shading = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(shading, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    font = max(5.0, min(9.0, 90.0 / classes))
    for (true, predicted), count in np.ndenumerate(counts):
        axes.text(predicted, true, str(count), ha="center", va="center", fontsize=font,
                  color="white" if shares[true, predicted] > 0.5 else "black")
    axes.set_xticks(range(classes), labels=list(class_names), rotation=90, fontsize=font)
    axes.set_yticks(range(classes), labels=list(class_names), fontsize=font)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    figure.tight_layout()
    return figure


def png_bytes(figure, dpi: int = 100) -> bytes:
    """`figure` rendered as PNG."""
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()
