"""convnet.runtime.plots: one PNG per figure, empty series and empty figures included; the labeled
confusion matrix; the error without matplotlib."""

import sys

import numpy as np
import pytest

from convnet.runtime import plots
from convnet.runtime.errors import ConvnetError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_lines_writes_a_png_of_several_series(tmp_path):
    path = tmp_path / "loss.png"
    plots.plot_lines({"a": [(0, 2.0), (10, 1.0)], "b": [(5, 1.5)], "empty": []}, "loss",
                     str(path), marker="o")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_a_figure_without_lines_is_still_written(tmp_path):
    path = tmp_path / "none.png"
    plots.plot_lines({}, "learning rate", str(path))
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_without_matplotlib_a_figure_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(ConvnetError, match=r"pip install 'convnet\[plots\]'"):
        plots.plot_lines({}, "loss", str(tmp_path / "loss.png"))
    with pytest.raises(ConvnetError, match="matplotlib"):
        plots.confusion_figure(np.eye(2), ["a", "b"])


def test_confusion_figure_names_the_classes_and_writes_each_count():
    counts = np.array([[5, 1, 0], [2, 6, 2], [0, 0, 0]])
    figure = plots.confusion_figure(counts, ["cat", "dog", "ship"])
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["cat", "dog", "ship"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["cat", "dog", "ship"]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in axes.texts}  # (row = true, column = predicted) -> text
    assert cells == {(i, j): str(counts[i, j]) for i in range(3) for j in range(3)}
    shading = np.asarray(axes.images[0].get_array())
    np.testing.assert_allclose(shading, [[5 / 6, 1 / 6, 0], [0.2, 0.6, 0.2], [0, 0, 0]])
    assert plots.png_bytes(figure)[:8] == PNG_MAGIC


def test_confusion_figure_refuses_counts_of_another_size():
    with pytest.raises(ValueError, match="3 class names"):
        plots.confusion_figure(np.eye(2), ["a", "b", "c"])
