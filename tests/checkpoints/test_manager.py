"""RunCheckpoints: save, resume from the newest that reads, rewrite a lost state file."""

import os

import pytest
import tensorflow as tf

from convnet import models
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record, state
from convnet.checkpoints.manager import RunCheckpoints
from convnet.optim import optimizers
from convnet.runtime.errors import CheckpointError

RECORD = run_record.RunRecord(model="lenet5", dataset="mnist", num_classes=10, batch_size=4)


def _checkpoints(train_dir, **kwargs):
    built = state.build(models.build_model("lenet5", 10), [28, 28, 1],
                        optimizer=optimizers.make_optimizer("sgd", 0.9))
    return RunCheckpoints(built, str(train_dir), tf.distribute.get_strategy(), max_to_keep=2,
                          **kwargs)


def test_save_then_restore_in_a_new_process_state(tmp_path, capsys):
    first = _checkpoints(tmp_path)
    for step in (3, 6, 9):
        first.state.step.assign(step)
        assert first.save() == str(tmp_path / f"ckpt-{step}")
    assert [checkpoint_files.step_of(p) for p in checkpoint_files.checkpoint_paths(str(tmp_path))] \
        == [6, 9]  # max_to_keep
    run_record.write(str(tmp_path), RECORD)
    os.remove(tmp_path / checkpoint_files.STATE_FILE)
    second = _checkpoints(tmp_path)
    assert second.restore(RECORD) == 9
    assert "rewrote" in capsys.readouterr().out
    assert checkpoint_files.listed_latest(str(tmp_path)).endswith("ckpt-9")


def test_another_run_or_a_strict_lost_state_file_is_refused(tmp_path):
    first = _checkpoints(tmp_path)
    first.state.step.assign(3)
    first.save()
    run_record.write(str(tmp_path), RECORD)
    other = run_record.RunRecord(model="lenet5", dataset="mnist", num_classes=10, batch_size=8)
    with pytest.raises(CheckpointError, match="batch_size=4 \\(asked for 8\\)"):
        _checkpoints(tmp_path).restore(other)
    os.remove(tmp_path / checkpoint_files.STATE_FILE)
    with pytest.raises(CheckpointError, match="no checkpoint state file"):
        _checkpoints(tmp_path, restore_fallback=False)
