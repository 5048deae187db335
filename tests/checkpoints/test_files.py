"""The checkpoint files of a train_dir: the newest on disk, the state file, tidying."""

import os

import pytest
import tensorflow as tf

from convnet.checkpoints import files as checkpoint_files
from convnet.runtime.errors import CheckpointError


def _save(directory, steps, keep=5):
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(checkpoint, str(directory), keep)
    for step in steps:
        manager.save(checkpoint_number=step)
    return manager


def test_the_latest_is_the_newest_on_disk_with_or_without_the_state_file(tmp_path):
    _save(tmp_path, [5, 10, 15])
    assert checkpoint_files.checkpoint_paths(str(tmp_path)) == [
        str(tmp_path / f"ckpt-{step}") for step in (5, 10, 15)]
    assert checkpoint_files.latest_checkpoint(str(tmp_path), strict=True).endswith("ckpt-15")
    os.remove(tmp_path / checkpoint_files.STATE_FILE)
    assert checkpoint_files.latest_checkpoint(str(tmp_path)).endswith("ckpt-15")
    assert checkpoint_files.listed_latest(str(tmp_path)) is None
    with pytest.raises(CheckpointError, match=r"ckpt-5, ckpt-10, ckpt-15\) but no checkpoint"):
        checkpoint_files.latest_checkpoint(str(tmp_path), strict=True)
    assert checkpoint_files.step_of("dir/ckpt-15") == 15 and checkpoint_files.step_of("x") == -1


def test_write_state_names_the_latest_and_keeps_counting_for_max_to_keep(tmp_path):
    _save(tmp_path, [5, 10, 15])
    os.remove(tmp_path / checkpoint_files.STATE_FILE)
    checkpoint_files.write_state(str(tmp_path), str(tmp_path / "ckpt-10"))
    assert checkpoint_files.listed_latest(str(tmp_path)).endswith("ckpt-10")
    _save(tmp_path, [20], keep=2)  # a manager made now knows ckpt-5 and ckpt-10: prunes ckpt-5
    assert [checkpoint_files.step_of(p) for p in checkpoint_files.checkpoint_paths(str(tmp_path))] \
        == [10, 15, 20]


def test_move_aside_numbers_clashing_names_and_unfinished_saves_are_removed(tmp_path):
    _save(tmp_path, [5])
    prefix = str(tmp_path / "ckpt-5")
    names = [os.path.basename(n) for n in checkpoint_files.checkpoint_files(prefix)]
    target = checkpoint_files.move_aside(prefix)
    _save(tmp_path, [5])
    checkpoint_files.move_aside(prefix)
    moved = sorted(os.listdir(target))
    assert moved == sorted(names + [f"{name}.1" for name in names])
    os.makedirs(tmp_path / "ckpt-9_temp")
    checkpoint_files.remove_unfinished_saves(str(tmp_path))
    assert not os.path.exists(tmp_path / "ckpt-9_temp")


def _positive(value):
    if not (isinstance(value, int) and value > 0):
        raise ValueError(f"not a positive integer: {value!r}")
    return value


def test_read_json_or_set_aside_parses_good_files_and_sets_damaged_ones_aside(tmp_path, capsys):
    path = tmp_path / "small.json"
    path.write_text("7")
    assert checkpoint_files.read_json_or_set_aside(str(path), _positive, "then what") == 7
    assert capsys.readouterr().out == ""
    for content, problem in ((b"\xff", "not JSON text: 'utf-8' codec can't decode byte 0xff"),
                             (b"{", "not JSON text: Expecting property name"),
                             (b"-3", "not a positive integer: -3")):
        path.write_bytes(content)
        assert checkpoint_files.read_json_or_set_aside(str(path), _positive, "then what") is None
        assert not path.exists()
        out = capsys.readouterr().out
        assert f"{path} was damaged ({problem}" in out and out.rstrip().endswith("; then what")
    corrupt = tmp_path / checkpoint_files.CORRUPT_DIR
    assert sorted(os.listdir(corrupt)) == ["small.json", "small.json.1", "small.json.2"]
    assert (corrupt / "small.json.2").read_bytes() == b"-3"
