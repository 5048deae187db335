"""convnet.serving.prediction: the top-k classes of PNG and JPEG files of any size and
channel count.

The train_dirs are written directly (tests/helpers.py's write_train_dir), so that
no test pays for a training step's tracing.
"""

import numpy as np
import pytest

from convnet.serving import image_files, loaded_model
from convnet.serving import prediction as predict

from helpers import random_image, write_image, write_train_dir


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return write_train_dir(tmp_path_factory.mktemp("train"))


def test_top_k_orders_by_probability_and_keeps_ties_in_class_order():
    probabilities = np.array([[0.1, 0.6, 0.1, 0.2], [0.25, 0.25, 0.25, 0.25]], np.float32)
    best = predict.top_k(probabilities, ["a", "b", "c", "d"], 2)
    assert best == [[("b", pytest.approx(0.6)), ("d", pytest.approx(0.2))],
                    [("a", 0.25), ("b", 0.25)]]
    assert predict.format_prediction("x.png", best[1]) == (
        "x.png\n  1. a            0.2500\n  2. b            0.2500")


def test_k_out_of_range_is_refused(train_dir):
    with pytest.raises(ValueError, match="--top_k must be positive, got 0"):
        predict.predict(train_dir[0], [], k=0)
    with pytest.raises(ValueError, match="--top_k=11 exceeds the 10 classes"):
        predict.predict(train_dir[0], [], k=11)


def test_predict_lists_top_k_of_png_and_jpeg_files_of_any_size(train_dir, tmp_path):
    directory = train_dir[0]
    paths = [write_image(tmp_path / "a.png", random_image([32, 32, 3])),
             write_image(tmp_path / "b.jpg", random_image([50, 80, 3], seed=1)),
             write_image(tmp_path / "c.png", random_image([7, 5, 4], seed=2))]
    lines = []
    predictions = predict.predict(directory, paths, k=3, log=lines.append)
    output = "\n".join(lines)
    assert "step 7, EMA weights" in lines[0]
    assert f"note: {paths[2]}: dropped its alpha channel" in output
    loaded = loaded_model.load(directory)
    probabilities = predict.predict_files(loaded, paths, log=None)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    for path, listed, row in zip(paths, predictions, probabilities, strict=True):
        assert len(listed) == 3
        names = [name for name, _ in listed]
        scores = [score for _, score in listed]
        assert scores == sorted(scores, reverse=True)
        expected = np.argsort(-row, kind="stable")[:3]
        assert names == [loaded.class_names[c] for c in expected]
        np.testing.assert_allclose(scores, row[expected], rtol=1e-6)
        assert predict.format_prediction(path, listed) in output
    assert f"  1. {names[0]:<12s} {scores[0]:.4f}" in output


def test_grayscale_png_to_an_rgb_model_is_converted_and_said(train_dir, tmp_path):
    grey = random_image([32, 32, 1])
    path = write_image(tmp_path / "grey.png", grey)
    lines = []
    predict.predict(train_dir[0], [path], k=2, log=lines.append)
    assert f"note: {path}: converted grayscale to RGB for a 3-channel model" in lines
    image = image_files.load_image(path, (32, 32, 3), log=None)
    np.testing.assert_array_equal(image, np.repeat(grey, 3, axis=-1))


def test_rgb_to_a_one_channel_model_is_converted(tmp_path):
    directory = write_train_dir(tmp_path / "mnist", dataset="mnist")[0]
    path = write_image(tmp_path / "colour.png", random_image([28, 28, 3]))
    lines = []
    [listed] = predict.predict(directory, [path], k=10, log=lines.append)
    assert f"note: {path}: converted RGB to grayscale for a 1-channel model" in lines
    assert sorted(name for name, _ in listed) == [str(d) for d in range(10)]
    assert sum(p for _, p in listed) == pytest.approx(1.0, abs=1e-5)
