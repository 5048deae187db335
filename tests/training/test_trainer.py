"""The Trainer: loss goes down, checkpoints resume, bad runs stop cleanly."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from convnet import models, training
from convnet.checkpoints import counted_time, restore, run_record
from convnet.data import pipeline
from convnet.nn import ops
from convnet.runtime import timing
from convnet.runtime.errors import CheckpointError, NonFiniteLossError
from convnet.training import callbacks


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_source="synthetic", max_steps=20,
                  batch_size=32, optimizer="adam", shuffle_buffer=64, log_frequency=5,
                  save_checkpoint_steps=10, num_parallel_calls=4)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


@pytest.mark.slow
def test_a_few_steps_lower_the_loss(tmp_path):
    trainer = training.Trainer(_config(tmp_path, max_steps=30))
    batch = next(iter(pipeline.eval_dataset(trainer.source, "test", 64)))
    before = float(trainer.train_step.loss(*batch))
    assert trainer.train() == 30
    after = float(trainer.train_step.loss(*batch))
    assert after < before - 0.5, (before, after)


def test_loss_is_cross_entropy_plus_weight_decay(tmp_path):
    trainer = training.Trainer(_config(tmp_path))
    images, labels = next(iter(pipeline.eval_dataset(trainer.source, "test", 8)))
    logits = trainer.state.model(images, training=True)
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    decay = sum(0.004 * np.sum(v.numpy() ** 2) / 2 for v in trainer.state.model.trainable_variables
                if ops.weight_decay_of(v))
    trainer.train_step.batch_size = 8  # the loss averages over the global batch
    np.testing.assert_allclose(float(trainer.train_step.loss(images, labels)),
                               float(tf.reduce_mean(xent)) + decay, rtol=1e-5)


@pytest.mark.slow
def test_resume_continues_from_the_latest_checkpoint(tmp_path, capsys):
    first = training.Trainer(_config(tmp_path, max_steps=20))
    assert first.train() == 20
    saved = [v.numpy() for v in first.state.model.variables]
    saved_adam = [s.numpy() for slots in first.state.optimizer.slots for s in slots]
    assert sorted(os.listdir(tmp_path / "train")).count("ckpt-20.index") == 1

    second = training.Trainer(_config(tmp_path, max_steps=30))
    assert second.restore() == 20
    for a, b in zip(saved, second.state.model.variables, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    slots = [s for slots in second.state.optimizer.slots for s in slots]
    for a, b in zip(saved_adam, slots, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    assert int(second.state.optimizer.iterations) == 20
    assert second.train() == 30
    assert tf.train.latest_checkpoint(str(tmp_path / "train")).endswith("ckpt-30")
    out = capsys.readouterr().out
    assert "resumed from" in out
    # Time to accuracy goes on from what the first launch had counted at ckpt-20.
    counted = counted_time.read(str(tmp_path / "train"))
    assert set(counted) == {10, 20, 30} and counted[10] < counted[20] < counted[30]
    assert second.clock.seconds[timing.EARLIER] == counted[20]
    assert (f"time to accuracy goes on from the {counted[20]:.1f} s counted up to step 20 by "
            f"earlier launches") in out
    assert counted[30] > counted[20] + second.clock.seconds["startup"]  # this launch's added
    os.remove(tmp_path / "train" / counted_time.COUNTED_FILE)  # an earlier release's train_dir
    third = training.Trainer(_config(tmp_path, max_steps=31))
    assert third.train() == 31 and timing.EARLIER not in third.clock.seconds
    assert ("the seconds counted before step 30 are unknown (no entry in time_counted.json): "
            "time to accuracy counts this launch") in capsys.readouterr().out


@pytest.mark.slow
def test_training_past_max_steps_does_nothing(tmp_path, capsys):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    assert training.Trainer(_config(tmp_path, max_steps=10)).train() == 10
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.slow
def test_non_finite_loss_stops_before_the_update_and_keeps_the_checkpoint(tmp_path):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    trainer = training.Trainer(_config(tmp_path, max_steps=40, learning_rate=1e35))
    with pytest.raises(NonFiniteLossError) as info:
        trainer.train()
    message = str(info.value)
    assert f"at step {info.value.step}" in message and "learning rate 1e+35" in message
    assert "ckpt-10" in message
    assert tf.train.latest_checkpoint(str(tmp_path / "train")).endswith("ckpt-10")
    # The bad update was not applied: every weight is still finite.
    assert all(np.isfinite(v.numpy()).all() for v in trainer.state.model.trainable_variables)


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(tmp_path):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    run = run_record.read(str(tmp_path / "train"))
    run_record.write(str(tmp_path / "train"), dataclasses.replace(run, model="resnet20"))
    with pytest.raises(CheckpointError, match="model='resnet20'"):
        training.Trainer(_config(tmp_path, max_steps=20)).train()


@pytest.mark.slow
def test_auto_records_the_models_optimizer_and_resumes_with_it(tmp_path):
    config = _config(tmp_path, model="lenet5", optimizer="auto", max_steps=2,
                     save_checkpoint_steps=1)
    assert training.Trainer(config).train() == 2
    record = run_record.read(config.train_dir)
    assert (record.optimizer, record.settings["learning_rate"]) == ("adam", None)
    with training.Trainer(dataclasses.replace(config, max_steps=3)) as resumed:
        assert resumed.config.optim.optimizer == "adam"
        assert resumed.train() == 3


@pytest.mark.slow
def test_resuming_with_another_optimizer_is_refused(tmp_path):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    with pytest.raises(CheckpointError, match="optimizer='adam' \\(asked for 'sgd'\\)"):
        training.Trainer(_config(tmp_path, max_steps=20, optimizer="sgd")).train()


@pytest.mark.slow
def test_checkpoint_with_other_shapes_is_refused_with_a_clear_error(tmp_path):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    model = models.build_model("cifar10", num_classes=7)
    model(tf.zeros([1, 24, 24, 3]))
    path = tf.train.latest_checkpoint(str(tmp_path / "train"))
    with pytest.raises(CheckpointError, match="different model"):
        restore.restore(tf.train.Checkpoint(model=model), path, partial=True)


@pytest.mark.slow
def test_corrupt_checkpoint_is_reported(tmp_path):
    training.Trainer(_config(tmp_path, max_steps=10)).train()
    data = tmp_path / "train" / "ckpt-10.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="ckpt-10"):
        training.Trainer(_config(tmp_path, max_steps=20)).train()


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("max_steps", -1),
                                         ("learning_rate", 0.0), ("log_frequency", 0)])
def test_bad_config_values_are_refused(tmp_path, field, value):
    with pytest.raises(ValueError, match=f"--{field} must be positive"):
        training.Trainer(_config(tmp_path, **{field: value}))


@pytest.mark.slow
def test_zoo_model_uses_pad_crop_and_training_split_channel_statistics(tmp_path):
    trainer = training.Trainer(_config(tmp_path, model="baseline", max_steps=4, optimizer="sgd",
                                       momentum=0.9, weight_decay=5e-4))
    spec = trainer.setup.preprocessing
    assert (spec.augmentation, spec.normalization, spec.image_size) == (
        "pad_crop", "per_channel", 32)
    assert len(spec.channel_mean) == 3 and all(20 < s < 120 for s in spec.channel_std)
    assert trainer.train() == 4
    stored = run_record.read(str(tmp_path / "train")).preprocessing
    assert stored.channel_mean == spec.channel_mean
    # A resumed run keeps the stored statistics rather than recomputing them.
    resumed = training.Trainer(_config(tmp_path, model="baseline", max_steps=6, optimizer="sgd"))
    assert resumed.setup.preprocessing == spec


def test_epochs_set_the_schedule_and_max_steps_may_stop_early(tmp_path):
    # Synthetic CIFAR-10 has 50,000 training examples: 0.01 epochs at batch 32 = 16 steps.
    with training.Trainer(_config(tmp_path, epochs=0.01, max_steps=None,
                                  lr_schedule="cosine", learning_rate=0.2)) as full:
        assert full.max_steps == 16
    short = training.Trainer(_config(tmp_path, epochs=0.01, max_steps=5, lr_schedule="cosine",
                                     learning_rate=0.2))
    assert short.max_steps == 5
    # half-way through 16 steps
    assert float(short.setup.schedule(8)) == pytest.approx(0.1, rel=1e-5)


@pytest.mark.slow
def test_grey_28x28_dataset_trains_and_evaluates_with_its_own_shape(tmp_path):
    from convnet import evaluation
    trainer = training.Trainer(_config(tmp_path, model="lenet5", dataset="mnist", max_steps=5))
    preprocessing = trainer.setup.preprocessing
    assert preprocessing.image_size == 28 and preprocessing.flip is False
    assert trainer.train() == 5
    result = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=str(tmp_path / "train"), eval_dir=str(tmp_path / "eval"),
        data_source="synthetic", run_once=True, num_examples=50)).run()
    assert result.num_examples == 50 and len(result.class_count) == 10


def test_rounds_end_at_logs_checkpoints_histograms_evaluations_and_profile_steps(tmp_path,
                                                                                 cifar_dir):
    trainer = training.Trainer(training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_dir=cifar_dir[0], download=False,
        model="simple3", max_steps=50, batch_size=8, log_frequency=10,
        save_checkpoint_steps=15, histogram_frequency=4, eval_every_steps=6))
    jobs = trainer._jobs(tf.summary.create_noop_writer(), 0)[0]
    ends = [callbacks.round_end(jobs, step, trainer.max_steps, extra=(9, 11))[0]
            for step in (0, 4, 6, 8, 9, 10, 11, 12, 48)]
    assert ends == [4, 6, 8, 9, 10, 11, 12, 15, 50]
    trainer.close()


@pytest.mark.slow
def test_a_deterministic_run_turns_op_determinism_off_again_when_it_ends(tmp_path):
    from tensorflow.python.framework import config as tf_config
    assert not tf_config.is_op_determinism_enabled()
    trainer = training.Trainer(_config(tmp_path, max_steps=2, deterministic=True))
    assert tf_config.is_op_determinism_enabled()  # while it runs
    assert trainer.train() == 2
    assert not tf_config.is_op_determinism_enabled()  # a process-wide setting, given back
