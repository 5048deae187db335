"""The convnet.predict main: image paths, a checkpoint, raw weights, errors in one line.

`write_train_dir` (shared with other test files) writes a train_dir directly
(model, EMA, step and run.json, as the Trainer writes them) so that no test pays
for a training step's tracing; tests/serving/test_checkpoint_export.py loads a Trainer's own
directory. Loading a train_dir and image files (convnet.serving.loaded_model):
tests/serving/test_loaded_model.py; the top-k lists of convnet.serving.prediction:
tests/serving/test_prediction.py.
"""

import os
import subprocess
import sys
from unittest import mock

import pytest

from convnet.runtime import cli
from convnet.serving import prediction as predict

from helpers import random_image, write_image, write_train_dir

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return write_train_dir(tmp_path_factory.mktemp("train"))


@pytest.mark.slow
def test_the_main_takes_image_paths(train_dir, tmp_path):
    paths = [write_image(tmp_path / "a.png", random_image([32, 32, 3])),
             write_image(tmp_path / "b.jpg", random_image([40, 40, 3]))]
    done = subprocess.run([sys.executable, "-m", "convnet.predict",
                           f"--checkpoint_dir={train_dir[0]}", "--top_k=2", *paths],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("  1. ") == 2 and done.stdout.count("  2. ") == 2
    assert "  3. " not in done.stdout and all(path in done.stdout for path in paths)


@pytest.mark.slow
def test_the_main_takes_a_checkpoint_and_raw_weights_and_needs_images(train_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "convnet.predict",
                           f"--checkpoint_dir={train_dir[0]}",
                           f"--checkpoint={train_dir[0]}/ckpt-7", "--nouse_ema",
                           "--norestore_fallback", "--top_k=1",
                           write_image(tmp_path / "one.png", random_image([32, 32, 3]))],
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
        run_main(lambda paths: predict.predict(train_dir[0], paths), [str(text)])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: {text} is not an image")
    with pytest.raises(SystemExit):
        run_main(lambda paths: predict.predict(train_dir[0], paths, k=11), [str(text)])
    assert "error: --top_k=11 exceeds the 10 classes" in capsys.readouterr().err
