"""A damaged file convnet reads gets one line: its path, what is wrong, what to do; a file of a
train_dir that training can rebuild is set aside (kept, in corrupt/) and training goes on.
(Damaged checkpoints and state files: tests/checkpoints/test_restore.py; CIFAR python batches:
tests/data/sources/test_safe_pickle.py.)"""

import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from convnet import recipes, training
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record
from convnet.reports import comparison as compare
from convnet.reports import events
from convnet.runtime import cli
from convnet.runtime.errors import DamagedFileError, DataError
from convnet.serving import image_files, loaded_model

from helpers import write_train_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GARBAGE = b"\xff\xfe\x00garbage\x81\x82"


def _config(train_dir, **overrides):
    values = dict(train_dir=str(train_dir), model="lenet5", data_source="synthetic",
                  batch_size=8, max_steps=4, save_checkpoint_steps=2, log_frequency=2,
                  num_parallel_calls=1, shuffle_buffer=16)
    return training.TrainConfig.from_settings(**{**values, **overrides})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    train_dir = tmp_path_factory.mktemp("finished") / "train"
    assert training.Trainer(_config(train_dir)).train() == 4
    return str(train_dir)


@pytest.mark.parametrize("content, problem", [
    (GARBAGE, "not text: byte 0xff at offset 0"),
    (b'{"model": "lenet5", "num_cl', "not JSON: Unterminated string starting at: line 1 "
                                     "column 21 (char 20)"),
])
@pytest.mark.slow
def test_a_damaged_run_json_stops_readers_with_a_way_out_and_training_rewrites_it(
        finished, tmp_path, capsys, content, problem):
    train_dir = shutil.copytree(finished, str(tmp_path / "train"))
    path = os.path.join(train_dir, run_record.RUN_FILE)
    good = json.load(open(path, encoding="utf-8"))
    with open(path, "wb") as f:
        f.write(content)
    with pytest.raises(DamagedFileError) as error:
        loaded_model.load(train_dir)
    assert str(error.value) == (
        f"{path} is damaged ({problem}). Training writes it again: rerun the run's training "
        f"command (python -m convnet.train --flagfile={train_dir}/flags.txt), which sets the "
        f"damaged file aside into {train_dir}/corrupt/ and resumes.")
    assert training.Trainer(_config(train_dir, max_steps=6)).train() == 6
    out = capsys.readouterr().out
    moved = os.path.join(train_dir, checkpoint_files.CORRUPT_DIR, run_record.RUN_FILE)
    assert f"{path} was damaged ({problem}): set it aside as {moved}; this run writes a new " \
           f"one" in out
    assert f"resumed from {os.path.join(train_dir, 'ckpt-4')} at step 4" in out
    assert open(moved, "rb").read() == content
    rewritten = json.load(open(path, encoding="utf-8"))
    assert {key: rewritten[key] for key in ("model", "dataset", "num_classes", "batch_size",
                                            "preprocessing")} == \
        {key: good[key] for key in ("model", "dataset", "num_classes", "batch_size",
                                    "preprocessing")}
    assert loaded_model.load(train_dir).step == 6


@pytest.mark.slow
def test_a_finished_run_rewrites_a_damaged_run_json_though_there_is_nothing_to_train(
        finished, tmp_path):
    train_dir = shutil.copytree(finished, str(tmp_path / "train"))
    with open(os.path.join(train_dir, run_record.RUN_FILE), "wb") as f:
        f.write(GARBAGE)
    assert training.Trainer(_config(train_dir)).train() == 4
    assert run_record.read(train_dir).model == "lenet5"


def test_a_flag_file_that_is_not_text_is_named_with_the_way_out(tmp_path, monkeypatch):
    path = tmp_path / "run.flags"
    path.write_bytes(b"--model=lenet5\n" + GARBAGE)
    assert cli.damaged_flag_file(["convnet.train", f"--flagfile={path}"]) == (
        f"flag file {path} is damaged (not text: byte 0xff at offset 15): pass a flag file of "
        f"--flag=value lines (a train_dir's flags.txt, or --recipe=NAME).")
    assert cli.damaged_flag_file(["x", f"--flagfile={tmp_path / 'missing'}"]) is None  # absl's
    good = tmp_path / "good.flags"
    good.write_text("--model=lenet5\n")
    assert cli.damaged_flag_file(["x", f"--flagfile={good}"]) is None
    monkeypatch.setattr(recipes, "DIRECTORY", str(tmp_path))  # as if it were a shipped recipe
    assert "it is a recipe shipped with convnet: reinstall convnet (pip install " \
           "--force-reinstall convnet) to restore it." in cli.damaged_flag_file(
               ["x", f"--flagfile={path}"])


@pytest.mark.slow
def test_a_main_given_a_damaged_flag_file_prints_one_line(tmp_path):
    path = tmp_path / "flags.txt"
    path.write_bytes(GARBAGE)
    done = subprocess.run([sys.executable, "-m", "convnet.summary", f"--flagfile={path}"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: flag file {path} is damaged (not text: byte 0xff at offset 0): pass a flag "
        f"file of --flag=value lines (a train_dir's flags.txt, or --recipe=NAME)."]


def _event_file(directory, steps=200):
    with tf.summary.create_file_writer(str(directory)).as_default():
        for step in range(steps):
            tf.summary.scalar("loss", float(step), step=step)
    tf.summary.flush()
    name, = glob.glob(os.path.join(str(directory), "events.out.tfevents.*"))
    return name


def test_a_damaged_event_file_is_named_and_what_precedes_the_damage_kept(tmp_path, capsys):
    path = _event_file(tmp_path / "rot")
    with open(path, "r+b") as f:
        middle = os.path.getsize(path) // 2
        f.seek(middle)
        data = f.read(3)
        f.seek(middle)
        f.write(bytes(b ^ 0xFF for b in data))
    series = events.read_scalars(str(tmp_path / "rot"), "loss")
    steps = [step for step, _ in series]
    assert 0 < len(steps) < 200 and steps == list(range(len(steps)))
    assert all(value == step for step, value in series)
    out = capsys.readouterr().out
    assert f"warning: {path} is damaged (" in out and "corrupted record at" in out
    assert "its events after that point are left out" in out


def test_a_truncated_event_file_is_a_file_still_being_written_and_says_nothing(tmp_path,
                                                                              capsys):
    path = _event_file(tmp_path / "cut")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 5)
    assert [step for step, _ in events.read_scalars(str(tmp_path / "cut"), "loss")] == \
        list(range(199))
    assert capsys.readouterr().out == ""


def test_a_damaged_compare_record_is_set_aside(tmp_path, capsys):
    path = tmp_path / "compare.json"
    path.write_bytes(GARBAGE)
    assert compare._read_record(str(path)) == {}  # pylint: disable=protected-access
    moved = tmp_path / checkpoint_files.CORRUPT_DIR / "compare.json"
    assert moved.read_bytes() == GARBAGE and not path.exists()
    assert f"{path} was damaged (not JSON text: " in capsys.readouterr().out
    path.write_text('{"wall_secs": 12.5}')
    assert compare._read_record(str(path)) == {"wall_secs": 12.5}


@pytest.mark.parametrize("content, says", [
    (GARBAGE, "Unknown image file format. One of JPEG, JPEG XL, PNG, GIF, BMP, WebP required. "
              "Pass PNG or JPEG files."),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "Failed to decode WebP header. Pass PNG or JPEG files."),
    (tf.io.encode_png(np.zeros([4, 4, 3], np.uint8)).numpy()[:30], ". Pass PNG or JPEG files."),
])
def test_a_damaged_image_is_named_with_the_way_out(tmp_path, content, says):
    path = tmp_path / "image.png"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        image_files.read_image(str(path))
    message = str(error.value)
    assert message.startswith(f"{path} is not an image TensorFlow can decode: ")
    assert message.endswith(says) and ".." not in message


def test_the_trainer_sets_a_damaged_run_json_aside_only_as_chief(tmp_path):
    train_dir, *_ = write_train_dir(tmp_path / "train")
    with open(os.path.join(train_dir, run_record.RUN_FILE), "wb") as f:
        f.write(GARBAGE)
    with pytest.raises(DamagedFileError):
        run_record.read(train_dir)
    assert run_record.read_for_training(train_dir) is None
    assert os.listdir(os.path.join(train_dir, checkpoint_files.CORRUPT_DIR)) == ["run.json"]
