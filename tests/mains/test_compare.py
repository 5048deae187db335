"""convnet.compare, the main: its flags reach convnet.reports.comparison; errors are one line.

The training and evaluation themselves: tests/reports/test_comparison.py.
"""

import ast
import os
import subprocess
import sys

import pytest

from convnet import recipes

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")

# The main with compare.compare replaced by a print of its arguments.
CALL = """
from convnet import compare as main
from convnet.reports import comparison as compare
compare.compare = lambda *args, **kwargs: print(repr((args, kwargs)))
main.run()
"""


def _compare(*args, code=None):
    command = ["-c", code] if code else ["-m", "convnet.compare"]
    return subprocess.run([sys.executable, *command, *args], capture_output=True, text=True,
                          timeout=300, env=ENV)


@pytest.mark.slow
def test_the_data_flags_of_convnet_flags_reach_training_and_evaluation(tmp_path):
    done = _compare("--models=baseline,lenet5", "--max_steps=7", f"--output_dir={tmp_path}",
                    "--data_source=synthetic", "--batch_size=32", "--eval_examples=50",
                    code=CALL)
    assert done.returncode == 0, done.stderr
    args, kwargs = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    data_args = kwargs.pop("data_args")
    assert args == (("baseline", "lenet5"), str(tmp_path), 7)
    assert kwargs == {"configs_dir": recipes.DIRECTORY, "eval_examples": 50, "time_budget": "",
                      "epoch_budget": None}
    # --data_source, --data_dir and --download always; the others only when given.
    assert data_args == {"data_source": "synthetic", "data_dir": "/tmp/cifar10_data",
                         "download": True, "batch_size": 32}


@pytest.mark.slow
def test_an_unknown_model_is_one_error_line(tmp_path):
    done = _compare("--models=baseline,nosuch", f"--output_dir={tmp_path / 'out'}")
    assert done.returncode == 1
    assert "error: unknown --model='nosuch': choose from " in done.stderr
    assert "Traceback" not in done.stderr and not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_the_budgets_reach_compare_and_two_are_one_error_line(tmp_path):
    done = _compare("--models=lenet5_mnist,alexnet_mnist", "--time_budget=15m",
                    f"--output_dir={tmp_path}", code=CALL)
    assert done.returncode == 0, done.stderr
    args, kwargs = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert (args[0], args[2], kwargs["time_budget"], kwargs["epoch_budget"]) == (
        ("lenet5_mnist", "alexnet_mnist"), None, "15m", None)
    done = _compare("--time_budget=15m", "--epoch_budget=3", f"--output_dir={tmp_path / 'o'}")
    assert done.returncode == 1
    assert "error: --time_budget and --epoch_budget: give one budget" in done.stderr
    assert "Traceback" not in done.stderr and not os.path.exists(tmp_path / "o")
