"""convnet.summary, the main: the table of the model and dataset asked for.

The table itself: tests/models/test_layer_table.py.
"""

import os
import subprocess
import sys

import pytest

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def _summary(*args):
    return subprocess.run([sys.executable, "-m", "convnet.summary", *args],
                          capture_output=True, text=True, timeout=300, env=ENV)


@pytest.mark.slow
def test_the_main_prints_the_table_at_the_models_input_size():
    done = _summary("--model=cifar10")
    assert done.returncode == 0, done.stderr
    assert "Model: cifar10   input: (None, 24, 24, 3)" in done.stdout
    assert "Total params: 1,068,298" in done.stdout
    mnist = _summary("--model=lenet5", "--dataset=mnist")
    assert mnist.returncode == 0, mnist.stderr
    assert ", 1)" in mnist.stdout.splitlines()[0] and "Trainable params: " in mnist.stdout


@pytest.mark.slow
def test_positional_arguments_are_a_usage_error():
    done = _summary("resnet20")
    assert done.returncode != 0 and "unexpected arguments: resnet20" in done.stderr

