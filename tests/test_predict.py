"""convnet.inference and the convnet.predict main: loading a train_dir, image files, the main.

The train_dirs here are written directly (model, EMA, step and run.json, as the
Trainer writes them) so that no test pays for a training step's tracing;
tests/test_exporting.py loads a Trainer's own directory; the top-k lists of
convnet.prediction: tests/test_prediction.py.
"""

import json
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from convnet import cli, inference, models, prediction
from convnet.data import info as data_info
from convnet.data import preprocess
from convnet.ema import WeightEMA
from convnet.errors import CheckpointError, DataError

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def write_train_dir(directory, dataset="cifar10", step=7):
    """A train_dir of the tutorial model: raw weights, EMA = raw / 2, run.json."""
    info = data_info.dataset_info(dataset)
    model = models.build_model("cifar10", info.num_classes)
    preprocessing = preprocess.Preprocessing("tutorial", 24, "per_image")
    model(tf.zeros([1, 24, 24, info.image_shape[-1]]))
    ema = WeightEMA()
    ema.build(model.trainable_variables)
    for shadow in ema.shadows:
        shadow.assign(shadow * 0.5)
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64), model=model, ema=ema)
    tf.train.CheckpointManager(checkpoint, str(directory), 1).save(checkpoint_number=step)
    (directory / "run.json").write_text(json.dumps({
        "model": "cifar10", "dataset": info.name, "num_classes": info.num_classes,
        "image_size": 24, "image_channels": info.image_shape[-1],
        "preprocessing": {"augmentation": "tutorial", "image_size": 24,
                          "normalization": "per_image", "channel_mean": None,
                          "channel_std": None, "flip": True}}))  # an earlier release's fields
    return str(directory), model, ema, preprocessing


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return write_train_dir(tmp_path_factory.mktemp("train"))


def _write(path, image: np.ndarray) -> str:
    encode = tf.io.encode_png if str(path).endswith(".png") else tf.io.encode_jpeg
    tf.io.write_file(str(path), encode(image))
    return str(path)


def _random_image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_load_restores_ema_weights_and_the_runs_preprocessing(train_dir):
    directory, model, ema, preprocessing = train_dir
    loaded = inference.load(directory)
    assert loaded.step == 7 and loaded.checkpoint_path.endswith("ckpt-7")
    assert loaded.preprocessing == preprocessing and loaded.image_shape == (32, 32, 3)
    assert loaded.class_names[3] == "cat" and loaded.use_ema
    for shadow, variable in zip(ema.shadows, loaded.model.trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), shadow.numpy())
    raw = inference.load(directory, use_ema=False)
    for original, variable in zip(model.trainable_variables, raw.model.trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), original.numpy())


def test_logits_apply_the_evaluation_preprocessing(train_dir):
    directory, _, _, preprocessing = train_dir
    loaded = inference.load(directory)
    images = _random_image([3, 32, 32, 3])
    expected = loaded.model(tf.stack([preprocessing.evaluate(image) for image in images]))
    np.testing.assert_allclose(loaded.logits(images).numpy(), expected.numpy(), rtol=1e-5,
                               atol=1e-5)
    probabilities = loaded.probabilities(images)
    assert probabilities.shape == (3, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_missing_run_json_or_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint found in .*: train first"):
        inference.load(str(tmp_path))  # nothing there (no run.json without checkpoints: see
        # test_bad_input.py::test_eval_without_run_json_says_so_or_waits_for_it_in_loop_mode)
    (tmp_path / "run.json").write_text(json.dumps({"model": "cifar10", "num_classes": 10}))
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        inference.load(str(tmp_path))


def test_match_channels_drops_alpha_and_converts():
    said = []
    rgba = tf.constant(_random_image([4, 4, 4]))
    np.testing.assert_array_equal(inference.match_channels(rgba, 3, "x", said.append),
                                  rgba[..., :3])
    grey_alpha = tf.constant(_random_image([4, 4, 2]))
    rgb = inference.match_channels(grey_alpha, 3, "y", said.append)
    np.testing.assert_array_equal(rgb, np.repeat(grey_alpha[..., :1], 3, axis=-1))
    assert said == ["note: x: dropped its alpha channel",
                    "note: y: dropped its alpha channel; converted grayscale to RGB for a "
                    "3-channel model"]


def test_fit_size_keeps_the_aspect_ratio_and_takes_the_centre():
    # A 32x96 image: red | green | blue thirds. Its centre 32x32 window is all green.
    image = np.zeros([32, 96, 3], np.uint8)
    for third in range(3):
        image[:, 32 * third:32 * (third + 1), third] = 255
    centre = inference.fit_size(tf.constant(image), 32, 32).numpy()
    assert centre.shape == (32, 32, 3)
    np.testing.assert_array_equal(centre[..., 1], 255)
    assert centre[..., [0, 2]].max() == 0
    np.testing.assert_array_equal(inference.fit_size(tf.constant(image[:, :32]), 32, 32),
                                  image[:, :32])
    assert inference.fit_size(tf.constant(_random_image([3, 500, 3])), 32, 32).shape == (32, 32, 3)


def test_a_non_image_file_is_a_clear_error_naming_it(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(DataError, match=f"{text} is not an image TensorFlow can decode"):
        inference.load_images([str(text)], (32, 32, 3))
    with pytest.raises(DataError, match=f"image file {tmp_path / 'gone.png'} does not exist"):
        inference.read_image(str(tmp_path / "gone.png"))


def test_the_main_takes_image_paths(train_dir, tmp_path):
    paths = [_write(tmp_path / "a.png", _random_image([32, 32, 3])),
             _write(tmp_path / "b.jpg", _random_image([40, 40, 3]))]
    done = subprocess.run([sys.executable, "-m", "convnet.predict",
                           f"--checkpoint_dir={train_dir[0]}", "--top_k=2", *paths],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("  1. ") == 2 and done.stdout.count("  2. ") == 2
    assert "  3. " not in done.stdout and all(path in done.stdout for path in paths)


def test_the_main_takes_a_checkpoint_and_raw_weights_and_needs_images(train_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "convnet.predict",
                           f"--checkpoint_dir={train_dir[0]}",
                           f"--checkpoint={train_dir[0]}/ckpt-7", "--nouse_ema",
                           "--norestore_fallback", "--top_k=1",
                           _write(tmp_path / "one.png", _random_image([32, 32, 3]))],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr
    assert "ckpt-7 (step 7, raw weights)" in done.stdout and done.stdout.count("  1. ") == 1
    done = subprocess.run([sys.executable, "-m", "convnet.predict",
                           f"--checkpoint_dir={train_dir[0]}"],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 1 and "error: no image files given" in done.stderr


def test_errors_print_one_line_and_exit_1(train_dir, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    def run_main(main, args):
        with mock.patch.object(sys, "argv", ["convnet.predict", *args]):
            cli.run_main(main, takes_args=True)

    with pytest.raises(SystemExit) as exited:
        run_main(lambda paths: prediction.predict(train_dir[0], paths), [str(text)])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: {text} is not an image")
    with pytest.raises(SystemExit):
        run_main(lambda paths: prediction.predict(train_dir[0], paths, k=11), [str(text)])
    assert "error: --top_k=11 exceeds the 10 classes" in capsys.readouterr().err


def test_logits_with_test_time_augmentation(train_dir):
    loaded = inference.load(train_dir[0])
    images = np.random.default_rng(3).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    plain, mirrored = loaded.logits(images), loaded.logits(images[:, :, ::-1])
    np.testing.assert_allclose(loaded.logits(images, "flip").numpy(),
                               0.5 * (plain.numpy() + mirrored.numpy()), rtol=1e-5, atol=1e-6)
    assert loaded.logits(images, "flip_translate").shape == (3, loaded.num_classes)
