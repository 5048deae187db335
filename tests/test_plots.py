"""convnet.plots: one PNG per figure, empty series and empty figures included."""

from convnet import plots

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
