"""The convnet.predict main: image paths, a checkpoint, raw weights, errors in one line.

`write_train_dir` (shared with other test files) writes a train_dir directly
(model, EMA, step and run.json, as the Trainer writes them) so that no test pays
for a training step's tracing; tests/test_exporting.py loads a Trainer's own
directory. Loading a train_dir and image files (convnet.inference):
tests/test_inference.py; the top-k lists of convnet.prediction:
tests/test_prediction.py.
"""

import json
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from convnet import cli, models, prediction
from convnet.data import info as data_info
from convnet.data import preprocess
from convnet.ema import WeightEMA

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
