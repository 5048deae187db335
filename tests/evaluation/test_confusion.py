"""The confusion matrix as an image (labeled with matplotlib, else a heat map) and a CSV file."""

import sys

import numpy as np
import tensorflow as tf

from convnet.evaluation import confusion
from convnet.reports import event_tensors
from convnet.runtime import plots


def test_heat_map_shades_each_cell_by_its_share_of_the_row():
    counts = np.array([[4, 0], [1, 3]])
    image = confusion.heat_map(counts).numpy()
    cell = confusion.MAX_SIDE // 2
    assert image.shape == (1, 2 * cell, 2 * cell, 3)
    assert image.min() >= 0 and image.max() <= 1
    full, empty = np.array(confusion.FULL), np.ones(3)
    np.testing.assert_allclose(image[0, 0, 0], full, atol=1e-6)  # 4 of 4
    np.testing.assert_allclose(image[0, 0, -1], empty, atol=1e-6)  # 0 of 4
    np.testing.assert_allclose(image[0, -1, 0], 1 - 0.25 * (1 - full), atol=1e-6)  # 1 of 4
    np.testing.assert_allclose(image[0, -1, -1], 1 - 0.75 * (1 - full), atol=1e-6)


def test_an_empty_row_is_white_and_many_classes_keep_the_image_small():
    image = confusion.heat_map(np.zeros([100, 100], np.int64)).numpy()
    assert image.shape == (1, 300, 300, 3) and (image == 1).all()


def test_write_puts_an_image_and_a_csv_of_the_counts(tmp_path):
    counts = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    writer = tf.summary.create_file_writer(str(tmp_path))
    path = confusion.write(writer, str(tmp_path), 42, confusion=counts, class_names=["cat", "dog",
                                                                                     "ship"])
    writer.flush()
    assert path == str(tmp_path / "confusion_matrix_step_42.csv")
    assert open(path).readline().strip() == "true\\predicted,cat,dog,ship"
    names, read = confusion.read_csv(path)
    assert names == ["cat", "dog", "ship"]
    np.testing.assert_array_equal(read, counts)
    (step, _, plugin), = event_tensors.read_summaries(str(tmp_path))["confusion_matrix"]
    assert (step, plugin) == (42, "images")


def test_a_worker_writes_no_csv(tmp_path):
    writer = tf.summary.create_noop_writer()
    path = confusion.write(writer, str(tmp_path), 1, confusion=np.eye(2), class_names=["a", "b"],
                           is_chief=False)
    assert not (tmp_path / "confusion_matrix_step_1.csv").exists() and path.endswith("_1.csv")


def test_the_image_is_the_labeled_figure_where_matplotlib_is_installed():
    counts = np.array([[5, 1], [2, 7]])
    image = confusion.image(counts, ["cat", "dog"])
    expected = tf.io.decode_png(plots.png_bytes(plots.confusion_figure(counts, ["cat", "dog"])))
    assert image.dtype == tf.uint8 and image.shape == (1, *expected.shape[:2], 3)


def test_without_matplotlib_or_with_many_classes_the_image_is_the_heat_map(monkeypatch):
    many = np.eye(confusion.LABELED_CLASSES + 1, dtype=np.int64)
    names = [f"c{i}" for i in range(len(many))]
    np.testing.assert_array_equal(confusion.image(many, names), confusion.heat_map(many))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    counts = np.array([[5, 1], [2, 7]])
    np.testing.assert_array_equal(confusion.image(counts, ["a", "b"]), confusion.heat_map(counts))
