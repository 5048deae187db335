"""The examples/ scripts run as a user runs them, on tiny data, and say what they should."""

import os
import re
import subprocess
import sys

import pytest

from helpers import ENV, REPO


def _example(name, *args):
    done = subprocess.run([sys.executable, os.path.join(REPO, "examples", name), *args],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_a_custom_model_trained_and_evaluated_from_python(tmp_path):
    out = _example("custom_model.py", f"--train_dir={tmp_path / 'run'}", "--max_steps=6")
    assert re.search(r"trained to step 6, last loss [\d.]+, checkpoint .*ckpt-6", out), out
    assert re.search(r"precision @ 1 = [\d.]+ on 2000 test examples", out), out


@pytest.mark.slow
def test_cifar_style_data_from_numpy_arrays(tmp_path):
    out = _example("numpy_data.py", f"--train_dir={tmp_path / 'run'}", "--examples=120",
                   "--max_steps=8")
    assert re.search(r"step 8: precision @ 1 = [\d.]+ on the test arrays", out), out
    assert len(re.findall(r"^a (red|green|blue) image: predicted (red|green|blue)$", out,
                          re.M)) == 5, out


@pytest.mark.slow
def test_a_custom_training_loop_around_the_ops_and_the_train_step():
    out = _example("custom_loop.py", "--steps=60", "--batch_size=32")
    assert re.findall(r"^step (\d+): loss", out, re.M) == ["50", "60"], out
    assert re.search(r"precision @ 1 = [\d.]+ on 1000 test examples \(EMA\)", out), out
