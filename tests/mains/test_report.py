"""convnet.report, the main: train dirs as arguments, the files it writes, errors as one line."""

import os
import subprocess
import sys

import pytest

from event_runs import evaluated_run

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(train_dir, eval_dir, {step: precision}): tests/event_runs.py."""
    return evaluated_run(tmp_path_factory)


def _report(*args):
    return subprocess.run([sys.executable, "-m", "convnet.report", *args],
                          capture_output=True, text=True, timeout=300, env=ENV)


@pytest.mark.slow
def test_the_main_takes_train_dirs_as_arguments(run, tmp_path):
    out = tmp_path / "out"
    done = _report(run[0], f"--eval_dir={run[1]}", f"--output_dir={out}")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["learning_rate.png", "loss.png", "precision.png",
                                       "summary.md"]
    assert "| train | 4 |" in done.stdout


@pytest.mark.slow
def test_a_directory_without_events_is_one_error_line(tmp_path):
    done = _report(f"--train_dir={tmp_path}", f"--output_dir={tmp_path / 'out'}")
    assert done.returncode == 1
    assert f"error: no TensorBoard event files (events.out.tfevents.*) in {tmp_path}" \
        in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
