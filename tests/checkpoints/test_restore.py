"""No failure restarts a run from step 0: a lost state file, damaged checkpoints, a full disk,
a diverging loss (issue 9).

The checkpoint cases run in process: tiny MNIST files and LeNet-5 for training, hand-written
train_dirs of the tutorial model for eval, predict and export.
"""

import dataclasses
import glob
import hashlib
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from convnet import evaluation, training
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import restore, run_record
from convnet.checkpoints import state as state_lib
from convnet.runtime import errors
from convnet.runtime.errors import (
    CheckpointError,
    DamagedCheckpointError,
    DiskFullError,
    DivergedLossError,
)
from convnet.serving import checkpoint_export as export
from convnet.serving import loaded_model

import kill_harness
from helpers import write_train_dir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return kill_harness.write_data(str(tmp_path_factory.mktemp("data")))


def _config(train_dir, data_dir, **overrides):
    values = dict(train_dir=str(train_dir), data_source="files", data_dir=data_dir,
                  dataset="mnist", model="lenet5", download=False, batch_size=8,
                  num_parallel_calls=1, shuffle_buffer=64, log_frequency=5,
                  save_checkpoint_steps=5, max_steps=20, optimizer="sgd")
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def _hashes(directory):
    return {os.path.basename(name): hashlib.sha256(open(name, "rb").read()).hexdigest()
            for name in glob.glob(os.path.join(directory, "ckpt-*"))}


# Ways to damage a checkpoint's files, as a sync tool, a full disk or a bad copy would.
def _truncate_data(prefix):
    name, = glob.glob(prefix + ".data-*")
    with open(name, "r+b") as f:
        f.truncate(os.path.getsize(name) // 2)


def _corrupt_index(prefix):
    with open(prefix + ".index", "r+b") as f:
        f.seek(0)
        f.write(b"\xff" * 64)


def _remove_shard(prefix):
    os.remove(glob.glob(prefix + ".data-*")[0])


DAMAGES = {"truncated data file": _truncate_data, "corrupt index": _corrupt_index,
           "missing shard": _remove_shard}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    """A 20-step LeNet-5 run with checkpoints at 5, 10, 15, 20 (copied by each test)."""
    train_dir = tmp_path_factory.mktemp("finished") / "train"
    training.Trainer(_config(train_dir, data_dir)).train()
    return str(train_dir)


def _copy(run, tmp_path):
    return shutil.copytree(run, str(tmp_path / "train"))


# --- a lost state file ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_deleted_state_file_resumes_from_the_newest_checkpoint_and_changes_no_file(
        tmp_path, data_dir, finished_run, capsys):
    train_dir = _copy(finished_run, tmp_path)
    os.remove(os.path.join(train_dir, checkpoint_files.STATE_FILE))
    before = _hashes(train_dir)
    assert sorted(before) == sorted(f"ckpt-{s}.{e}" for s in (5, 10, 15, 20)
                                    for e in ("index", "data-00000-of-00001"))
    assert checkpoint_files.latest_checkpoint(train_dir).endswith("ckpt-20")
    trainer = training.Trainer(_config(train_dir, data_dir, max_steps=25,
                                       max_checkpoints_to_keep=10))
    assert trainer.train() == 25
    out = capsys.readouterr().out
    assert f"rewrote {os.path.join(train_dir, 'checkpoint')} to name ckpt-20 (it named " \
           f"nothing)" in out
    assert f"resumed from {os.path.join(train_dir, 'ckpt-20')} at step 20" in out
    after = _hashes(train_dir)
    assert {name: after[name] for name in before} == before  # no existing file changed
    assert tf.train.latest_checkpoint(train_dir).endswith("ckpt-25")
    # The state file lists the old checkpoints again, so max_to_keep manages them.
    state = tf.train.get_checkpoint_state(train_dir)
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == \
        [f"ckpt-{s}" for s in (5, 10, 15, 20, 25)]


def test_without_fallback_a_deleted_state_file_stops_with_a_message(tmp_path, data_dir,
                                                                     finished_run):
    train_dir = _copy(finished_run, tmp_path)
    os.remove(os.path.join(train_dir, checkpoint_files.STATE_FILE))
    before = _hashes(train_dir)
    with pytest.raises(CheckpointError) as error:
        training.Trainer(_config(train_dir, data_dir, max_steps=25,
                                 restore_fallback=False)).train()
    assert f"{train_dir} holds checkpoints (ckpt-5, ckpt-10, ckpt-15, ckpt-20) but no " \
           f"checkpoint state file" in str(error.value)
    assert "--restore_fallback" in str(error.value)
    assert _hashes(train_dir) == before


GARBAGE = b"\xff\xfe\x00 not a state file \x81\x82"


def test_a_damaged_state_file_is_set_aside_rebuilt_and_training_resumes(
        tmp_path, data_dir, finished_run, capsys):
    train_dir = _copy(finished_run, tmp_path)
    state_file = os.path.join(train_dir, checkpoint_files.STATE_FILE)
    with open(state_file, "wb") as f:
        f.write(GARBAGE)
    before = _hashes(train_dir)
    trainer = training.Trainer(_config(train_dir, data_dir, max_steps=25,
                                       max_checkpoints_to_keep=10))
    assert trainer.train() == 25
    out = capsys.readouterr().out
    moved = os.path.join(train_dir, checkpoint_files.CORRUPT_DIR, checkpoint_files.STATE_FILE)
    assert (f"{state_file} was damaged (not text: byte 0xff at offset 0): set it aside as "
            f"{moved} and rebuilt it from the checkpoints there (ckpt-5, ckpt-10, ckpt-15, "
            f"ckpt-20)") in out
    assert f"resumed from {os.path.join(train_dir, 'ckpt-20')} at step 20" in out
    assert open(moved, "rb").read() == GARBAGE  # kept, not deleted
    after = _hashes(train_dir)
    assert {name: after[name] for name in before} == before
    assert [os.path.basename(p) for p in tf.train.get_checkpoint_state(
        train_dir).all_model_checkpoint_paths] == [f"ckpt-{s}" for s in (5, 10, 15, 20, 25)]


def test_without_fallback_a_damaged_state_file_stops_with_a_message_and_stays(
        tmp_path, data_dir, finished_run):
    train_dir = _copy(finished_run, tmp_path)
    with open(os.path.join(train_dir, checkpoint_files.STATE_FILE), "wb") as f:
        f.write(GARBAGE)
    with pytest.raises(CheckpointError, match=r"checkpoint is unreadable \(not text: byte 0xff "
                                              r"at offset 0\): rerun with --restore_fallback"):
        training.Trainer(_config(train_dir, data_dir, max_steps=25, restore_fallback=False))
    assert open(os.path.join(train_dir, checkpoint_files.STATE_FILE), "rb").read() == GARBAGE


def test_eval_predict_and_export_find_checkpoints_without_a_state_file(tmp_path):
    train_dir, _, _, _ = write_train_dir(tmp_path / "train")
    os.remove(os.path.join(train_dir, checkpoint_files.STATE_FILE))
    assert loaded_model.load(train_dir).checkpoint_path.endswith("ckpt-7")
    result = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=train_dir, eval_dir=str(tmp_path / "eval"), data_source="synthetic",
        run_once=True, num_examples=8, batch_size=8, num_parallel_calls=1)).run()
    assert result.step == 7
    assert not os.path.exists(os.path.join(train_dir, checkpoint_files.STATE_FILE))  # readers


# --- damaged checkpoints -------------------------------------------------------------------


def _two_checkpoints(directory):
    """A train_dir of the tutorial model with checkpoints at steps 5 and 7."""
    train_dir, model, ema, _ = write_train_dir(directory, step=5)
    checkpoint = tf.train.Checkpoint(step=tf.Variable(7, dtype=tf.int64), model=model, ema=ema)
    tf.train.CheckpointManager(checkpoint, train_dir, 5).save(checkpoint_number=7)
    return train_dir


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_latest_checkpoint_is_skipped_moved_aside_and_the_previous_restored(
        tmp_path, capsys, damage):
    train_dir = _two_checkpoints(tmp_path / "train")
    latest = os.path.join(train_dir, "ckpt-7")
    damaged = {os.path.basename(name) for name in checkpoint_files.checkpoint_files(latest)}
    DAMAGES[damage](latest)
    loaded = loaded_model.load(train_dir)
    assert loaded.checkpoint_path == os.path.join(train_dir, "ckpt-5") and loaded.step == 5
    lines = [line for line in capsys.readouterr().out.splitlines() if "skipped checkpoint" in line]
    assert len(lines) == 1, lines
    assert f"skipped checkpoint {latest}: " in lines[0]
    assert {"truncated data file": "is truncated or corrupt", "corrupt index": "is corrupt",
            "missing shard": "is missing"}[damage] in lines[0]
    corrupt = os.path.join(train_dir, checkpoint_files.CORRUPT_DIR)
    assert f"its files were moved to {corrupt}" in lines[0]
    if damage == "missing shard":
        damaged = {name for name in damaged if name.endswith(".index")}
    assert set(os.listdir(corrupt)) == damaged  # moved, not deleted
    assert not checkpoint_files.checkpoint_files(latest)


def test_without_fallback_a_damaged_checkpoint_stops_and_stays(tmp_path):
    train_dir = _two_checkpoints(tmp_path / "train")
    _truncate_data(os.path.join(train_dir, "ckpt-7"))
    with pytest.raises(DamagedCheckpointError, match=r"cannot restore .*ckpt-7: .* is truncated"):
        loaded_model.load(train_dir, restore_fallback=False)
    assert not os.path.exists(os.path.join(train_dir, checkpoint_files.CORRUPT_DIR))


def test_when_no_checkpoint_reads_the_error_names_each(tmp_path):
    train_dir = _two_checkpoints(tmp_path / "train")
    _truncate_data(os.path.join(train_dir, "ckpt-7"))
    _corrupt_index(os.path.join(train_dir, "ckpt-5"))
    with pytest.raises(CheckpointError, match=r"no checkpoint in .* reads: ckpt-7: .*; ckpt-5: "):
        loaded_model.load(train_dir)


def test_a_checkpoint_of_another_model_is_never_skipped(tmp_path):
    train_dir = _two_checkpoints(tmp_path / "train")
    run_record.write(train_dir, dataclasses.replace(run_record.read(train_dir), model="lenet5"))
    with pytest.raises(CheckpointError, match="does not fit the model built here"):
        loaded_model.load(train_dir)
    assert len(checkpoint_files.checkpoint_paths(train_dir)) == 2


def test_eval_and_export_fall_back_too(tmp_path, capsys):
    train_dir = _two_checkpoints(tmp_path / "train")
    _truncate_data(os.path.join(train_dir, "ckpt-7"))
    result = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=train_dir, eval_dir=str(tmp_path / "eval"), data_source="synthetic",
        run_once=True, num_examples=8, batch_size=8, num_parallel_calls=1)).run()
    assert result.step == 5
    assert "skipped checkpoint" in capsys.readouterr().out
    train_dir = _two_checkpoints(tmp_path / "train2")
    _corrupt_index(os.path.join(train_dir, "ckpt-7"))
    export.export(train_dir, str(tmp_path / "export"), "npz")
    assert "skipped checkpoint" in capsys.readouterr().out


def test_eval_loop_evaluates_each_checkpoint_once_in_order_and_skips_a_damaged_one(
        tmp_path, capsys, monkeypatch):
    train_dir = _two_checkpoints(tmp_path / "train")
    run_record.write(train_dir, dataclasses.replace(run_record.read(train_dir), max_steps=7))
    _truncate_data(os.path.join(train_dir, "ckpt-7"))
    evaluator = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=train_dir, eval_dir=str(tmp_path / "eval"), data_source="synthetic",
        run_once=False, eval_interval_secs=0, num_examples=8, batch_size=8,
        num_parallel_calls=1))
    evaluated = []
    original = evaluator.evaluate_checkpoint
    evaluator.evaluate_checkpoint = lambda path: evaluated.append(path) or original(path)
    # ckpt-7 (the last step) is damaged: the loop would wait for another, so stop it there.
    skip = restore.skip_damaged

    def skip_and_stop(path, damage, move=True):
        skip(path, damage, move)
        raise StopIteration

    monkeypatch.setattr(restore, "skip_damaged", skip_and_stop)
    with pytest.raises(StopIteration):
        evaluator.run()
    assert [os.path.basename(p) for p in evaluated] == ["ckpt-5", "ckpt-7"]
    out = capsys.readouterr().out
    assert "precision @ 1" in out and f"skipped checkpoint {train_dir}/ckpt-7" in out


def test_training_falls_back_and_never_overwrites_a_damaged_checkpoint(
        tmp_path, data_dir, finished_run, capsys):
    train_dir = _copy(finished_run, tmp_path)
    _truncate_data(os.path.join(train_dir, "ckpt-20"))
    damaged = _hashes(train_dir)["ckpt-20.data-00000-of-00001"]
    trainer = training.Trainer(_config(train_dir, data_dir, max_steps=20))
    assert trainer.train() == 20
    out = capsys.readouterr().out
    assert f"resumed from {os.path.join(train_dir, 'ckpt-15')} at step 15" in out
    assert "rewrote" in out and "to name ckpt-15 (it named ckpt-20)" in out
    moved = os.path.join(train_dir, checkpoint_files.CORRUPT_DIR, "ckpt-20.data-00000-of-00001")
    assert hashlib.sha256(open(moved, "rb").read()).hexdigest() == damaged
    assert kill_harness.read_checkpoint(os.path.join(train_dir, "ckpt-20"))  # rewritten, whole


def _flip_bytes(prefix, count=3):
    """Bit rot: inverts `count` bytes in the middle of the checkpoint's data file."""
    name, = glob.glob(prefix + ".data-*")
    with open(name, "r+b") as f:
        middle = os.path.getsize(name) // 2
        f.seek(middle)
        data = f.read(count)
        f.seek(middle)
        f.write(bytes(b ^ 0xFF for b in data))


@pytest.mark.slow
def test_bit_rot_in_the_newest_checkpoint_resumes_from_the_previous_one_bitwise(
        tmp_path, data_dir, capsys):
    """The checksum catches the flipped bytes; training resumes from the checkpoint before and
    ends with the weights of a run never interrupted (--deterministic)."""
    settings = dict(deterministic=True, seed=3, momentum=0.9)
    damaged_dir = str(tmp_path / "damaged")
    assert training.Trainer(_config(damaged_dir, data_dir, max_steps=20, **settings)).train() == 20
    _flip_bytes(os.path.join(damaged_dir, "ckpt-20"))
    assert training.Trainer(_config(damaged_dir, data_dir, max_steps=25, **settings)).train() == 25
    out = capsys.readouterr().out
    assert f"skipped checkpoint {os.path.join(damaged_dir, 'ckpt-20')}: " in out
    assert "Checksum does not match" in out
    assert f"resumed from {os.path.join(damaged_dir, 'ckpt-15')} at step 15" in out
    assert "does not fit the model" not in out
    reference_dir = str(tmp_path / "reference")
    assert training.Trainer(_config(reference_dir, data_dir, max_steps=25, **settings)).train() \
        == 25
    resumed = kill_harness.read_checkpoint(os.path.join(damaged_dir, "ckpt-25"))
    reference = kill_harness.read_checkpoint(os.path.join(reference_dir, "ckpt-25"))
    assert sorted(resumed) == sorted(reference)
    for name in reference:
        if name != "save_counter/.ATTRIBUTES/VARIABLE_VALUE":  # counts saves, not steps
            np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)


def test_a_restore_that_fails_for_another_reason_never_blames_the_model(tmp_path, monkeypatch):
    train_dir = _two_checkpoints(tmp_path / "train")
    state, _ = state_lib.for_reading(run_record.read(train_dir))

    def fail(*args, **kwargs):
        raise tf.errors.UnavailableError(None, None, "the file server went away")

    monkeypatch.setattr(tf.train.Checkpoint, "read", fail)
    with pytest.raises(CheckpointError) as error:
        restore.restore(state.checkpoint, os.path.join(train_dir, "ckpt-7"), partial=True)
    message = str(error.value)
    assert "the file server went away" in message and "does not fit" not in message
    assert "its files read whole and hold the variables of the model built here" in message


def test_model_differences_names_what_differs(tmp_path):
    directory = str(tmp_path / "ckpt")
    stored = tf.train.Checkpoint(a=tf.Variable([1.0, 2.0]), b=tf.Variable(3.0),
                                 c=tf.Variable([[1.0]]))
    path = stored.write(directory)
    same = tf.train.Checkpoint(a=tf.Variable([0.0, 0.0]), b=tf.Variable(0.0),
                               c=tf.Variable([[0.0]]))
    assert restore.model_differences(same, path) == ""
    other = tf.train.Checkpoint(a=tf.Variable([0.0, 0.0, 0.0]), b=tf.Variable(0.0),
                                d=tf.Variable(1))
    assert restore.model_differences(other, path) == (
        "1 variable missing from it: d; 1 variable not in the model built here: c; "
        "1 variable of another shape: a [2] (here [3])")
    fewer = tf.train.Checkpoint(a=tf.Variable([0.0, 0.0]))
    assert restore.model_differences(fewer, path, partial=True) == ""


# --- a full disk ---------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 8 MB (resized by the test); skipped unless this process may mount."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
            capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    yield str(mount_point)
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_keeps_the_previous_checkpoint_removes_partial_files_and_says_so(
        small_disk, data_dir):
    train_dir = os.path.join(small_disk, "train")
    trainer = training.Trainer(_config(train_dir, data_dir, max_steps=10))
    # Run to the first checkpoint, then shrink the disk to what is used + half a checkpoint.
    trainer.setup.max_steps = 5
    trainer.train()
    size = checkpoint_files.files_bytes(os.path.join(train_dir, "ckpt-5"))
    used = int(subprocess.run(["du", "-sb", small_disk], capture_output=True, text=True,
                              check=True).stdout.split()[0])
    subprocess.run(["mount", "-o", f"remount,size={used + size // 2}", small_disk], check=True)
    trainer.setup.max_steps = 10
    with pytest.raises(DiskFullError) as error:
        trainer.train()
    message = str(error.value)
    assert f"no space left on the device of {train_dir} to write checkpoint ckpt-10" in message
    assert f"it needs about {size / 2**20:,.1f} MB" in message
    assert f"the previous checkpoint, {os.path.join(train_dir, 'ckpt-5')}, is intact" in message
    assert sorted(os.listdir(train_dir)) == sorted(
        ["checkpoint", "ckpt-5.index", "ckpt-5.data-00000-of-00001", "run.json",
         "time_counted.json", "writer.lock"] +
        [name for name in os.listdir(train_dir) if name.startswith("events.")])
    assert int(kill_harness.read_checkpoint(os.path.join(train_dir, "ckpt-5"))[
        kill_harness.STEP_KEY]) == 5
    assert tf.train.latest_checkpoint(train_dir).endswith("ckpt-5")


def test_run_json_on_a_full_disk_leaves_no_temp_file(monkeypatch, tmp_path):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_record.os, "replace", full)  # after run.json.tmp is written
    with pytest.raises(DiskFullError, match="to write .*run.json"):
        run_record.write(str(tmp_path), run_record.RunRecord(model="x"))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# --- a diverging loss ----------------------------------------------------------------------


def test_a_finite_diverging_loss_stops_with_nan_policy_stop(tmp_path, data_dir):
    train_dir = tmp_path / "train"
    settings = dict(log_frequency=2, save_checkpoint_steps=2, max_loss=1e3)
    training.Trainer(_config(train_dir, data_dir, max_steps=4, **settings)).train()
    trainer = training.Trainer(_config(train_dir, data_dir, learning_rate=1e9, max_steps=40,
                                       **settings))
    with pytest.raises(DivergedLossError) as error:
        trainer.train()
    step, loss = error.value.step, error.value.loss
    assert np.isfinite(loss) and loss > 1e3 and step > 4
    assert f"loss is {loss:.4g} at step {step} (learning rate 1e+09), above --max_loss=1000" \
        in str(error.value)
    # The diverged weights were not saved: the latest checkpoint is the last good one.
    latest = tf.train.latest_checkpoint(str(train_dir))
    assert latest.endswith("ckpt-4") and error.value.last_checkpoint == latest
    assert f"the last good checkpoint, {latest}, is intact" in str(error.value)


def test_a_diverging_loss_warns_once_with_skip_batch(tmp_path, data_dir, capsys):
    trainer = training.Trainer(_config(tmp_path / "train", data_dir, learning_rate=1e9,
                                       max_steps=8, log_frequency=2, save_checkpoint_steps=100,
                                       max_loss=1e3, nan_policy="skip_batch"))
    try:
        trainer.train()
    except errors.NonFiniteLossError:
        pass  # the weights may overflow later: that stop is the non-finite policy's
    out = capsys.readouterr().out
    assert out.count("above --max_loss=1000: training is diverging") == 1


def test_the_default_max_loss_is_ten_thousand_uniform_guesses(tmp_path, data_dir):
    with training.Trainer(_config(tmp_path / "train", data_dir)) as trainer:
        assert trainer.max_loss == pytest.approx(1e4 * np.log(10))
    with pytest.raises(ValueError, match="--max_loss must be positive"):
        training.Trainer(_config(tmp_path / "train", data_dir, max_loss=-1.0))
