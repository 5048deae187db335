"""A main whose stdout is closed early goes on and writes everything but those lines."""

import io
import os
import subprocess
import sys

import pytest

from convnet.runtime import closed_stdout


def test_a_write_to_a_closed_pipe_goes_to_devnull_from_then_on():
    read_fd, write_fd = os.pipe()
    stream = closed_stdout._ForgivingStdout(io.TextIOWrapper(io.FileIO(write_fd, "w")))
    stream.write("read\n")
    stream.flush()
    assert os.read(read_fd, 100) == b"read\n"
    os.close(read_fd)
    assert stream.write("x" * 100_000) == 100_000  # no BrokenPipeError
    stream.flush()
    stream.write("more\n")
    stream.flush()
    assert os.path.samestat(os.fstat(write_fd), os.stat(os.devnull))
    stream.close()


def test_tolerate_wraps_stdout_once(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    closed_stdout.tolerate()
    wrapped = sys.stdout
    closed_stdout.tolerate()
    assert sys.stdout is wrapped and isinstance(wrapped, closed_stdout._ForgivingStdout)
    print("kept")
    assert wrapped.getvalue() == "kept\n"  # other attributes reach the stream


@pytest.mark.slow
def test_training_piped_into_a_reader_that_quits_still_saves_its_checkpoint(tmp_path):
    train_dir = tmp_path / "train"
    with open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "convnet.train", "--data_source=synthetic",
             "--model=lenet5", "--batch_size=8", "--shuffle_buffer=16", "--max_steps=4",
             "--log_frequency=1", "--save_checkpoint_steps=4", f"--train_dir={train_dir}"],
            stdout=subprocess.PIPE, stderr=stderr)
        process.stdout.close()  # `| head -0`: nobody reads a line
        assert process.wait(timeout=300) == 0, (tmp_path / "stderr").read_text()[-2000:]
    assert (train_dir / "ckpt-4.index").exists()
    assert "BrokenPipe" not in (tmp_path / "stderr").read_text()
