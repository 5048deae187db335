"""The mains through a subprocess, as a user runs them: train then eval; errors in one line.

(Each main's own flags and exit statuses: the other files of tests/mains/; how a main is run:
tests/runtime/test_cli.py.)"""


import pytest

from conftest import write_cifar_files
from helpers import run_main


@pytest.mark.slow
def test_train_then_eval_on_synthetic_data(tmp_path):
    train_dir = str(tmp_path / "train")
    common = ["--data_source=synthetic", "--batch_size=16"]
    done = run_main("convnet.train", *common, f"--train_dir={train_dir}", "--max_steps=20",
                "--log_frequency=10", "--shuffle_buffer=64", "--optimizer=adam")
    assert done.returncode == 0, done.stderr
    assert "step 10, loss = " in done.stdout and "examples/sec; " in done.stdout
    assert "sec/batch)" in done.stdout and "saved checkpoint" in done.stdout
    evaluated = run_main("convnet.eval", *common, f"--checkpoint_dir={train_dir}",
                     f"--eval_dir={tmp_path / 'eval'}", "--run_once", "--top_k=3",
                     "--use_ema=false", "--num_examples=1000")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "precision @ 3 = " in evaluated.stdout and "1000 test examples" in evaluated.stdout
    assert "raw weights" in evaluated.stdout and "airplane" in evaluated.stdout


@pytest.mark.slow
def test_bad_data_gets_one_clear_line(tmp_path):
    missing = run_main("convnet.train", f"--data_dir={tmp_path / 'none'}", "--nodownload",
                   f"--train_dir={tmp_path / 't'}")
    assert missing.returncode == 1
    assert "error: CIFAR-10 data not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    data = tmp_path / "cifar-10-batches-bin"
    write_cifar_files(str(data), train_per_file=3)
    with open(data / "data_batch_2.bin", "r+b") as f:
        f.truncate(3073 * 2 + 7)
    truncated = run_main("convnet.train", f"--data_dir={data}", "--nodownload",
                     f"--train_dir={tmp_path / 't'}", "--max_steps=5")
    assert truncated.returncode == 1
    assert "data_batch_2.bin" in truncated.stderr and "3,073-byte" in truncated.stderr


@pytest.mark.slow
def test_non_finite_loss_exits_non_zero(tmp_path):
    done = run_main("convnet.train", "--data_source=synthetic", f"--train_dir={tmp_path / 't'}",
                "--max_steps=50", "--learning_rate=1e35", "--shuffle_buffer=64",
                "--batch_size=16")
    assert done.returncode == 1
    assert "error: loss is" in done.stderr and "no checkpoint had been written" in done.stderr


