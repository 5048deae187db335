"""The restorable state: one factory, the same checkpoint names for every reader."""

import numpy as np
import tensorflow as tf

from convnet import models
from convnet.checkpoints import restore, run_record, state
from convnet.optim import lookahead, optimizers


def _state(**parts):
    return state.build(models.build_model("lenet5", 10), [28, 28, 1], **parts)


def test_build_creates_every_variable_and_tracks_it_under_the_usual_names():
    full = _state(optimizer=optimizers.make_optimizer("sgd", 0.9, False),
                  lookahead=lookahead.Lookahead(100))
    tracked = set(full.checkpoint._trackable_children())  # pylint: disable=protected-access
    assert {"step", "model", "ema", "optimizer", "lookahead"} <= tracked
    assert "loss_scale" not in tracked  # None parts are left out
    model_values = sum(int(v.shape.num_elements()) for v in full.model.variables)
    assert model_values == models.count_params(full.model) > 0
    assert len(full.ema.shadows) == len(full.model.trainable_variables)
    assert int(full.step.numpy()) == 0 and full.step.dtype == tf.int64
    assert len(full.variables) > len(full.model.variables) + len(full.ema.shadows)


def test_a_reader_state_restores_a_training_state_checkpoint(tmp_path):
    writer = _state(optimizer=optimizers.make_optimizer("sgd", 0.9, False))
    for variable in writer.model.trainable_variables:
        variable.assign(tf.random.normal(variable.shape))
    writer.step.assign(7)
    path = tf.train.CheckpointManager(writer.checkpoint, str(tmp_path), 1).save(7)
    record = run_record.RunRecord(model="lenet5", dataset="mnist", num_classes=10)
    reader, preprocessing = state.for_reading(record)
    assert reader.optimizer is None and preprocessing.image_size == 28
    restore.restore(reader.checkpoint, path, partial=True)
    assert int(reader.step.numpy()) == 7
    for a, b in zip(reader.model.variables, writer.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
