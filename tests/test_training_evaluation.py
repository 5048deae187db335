"""Evaluation inside a run: epoch ends, and the precision written beside the training curves."""

import os

import pytest
import tensorflow as tf

from convnet import timing, training
from convnet.training_evaluation import TrainingEvaluation, next_epoch_end


@pytest.mark.parametrize("step, steps_per_epoch, expected", [
    (0, 48.828125, 49), (48, 48.828125, 49), (49, 48.828125, 98), (97, 48.828125, 98),
    (0, 10.0, 10), (10, 10.0, 20), (9, 10.0, 10)])
def test_next_epoch_end_is_the_ceiling_of_the_next_multiple(step, steps_per_epoch, expected):
    assert next_epoch_end(step, steps_per_epoch) == expected


def test_after_an_epoch_is_not_timed_and_at_end_is(tmp_path, capsys):
    trainer = training.Trainer(training.TrainConfig(
        train_dir=str(tmp_path / "train"), data_source="synthetic", model="lenet5",
        dataset="mnist", max_steps=1, batch_size=4, num_parallel_calls=1, shuffle_buffer=8))
    evaluation = TrainingEvaluation(trainer.source, trainer.input_settings, trainer.state.model,
                                    trainer.strategy, tf.float32, trainer.config.train_dir,
                                    True)
    clock = timing.Phases()
    clock.start("training")
    evaluation.after_epoch(10, 5.0, clock)
    assert clock.running == "training" and "evaluation" not in clock.seconds
    precision = evaluation.at_end(10, "flip", clock)
    assert 0.0 <= precision <= 1.0 and clock.seconds["evaluation"] > 0
    out = capsys.readouterr().out
    assert "epoch 2 (step 10): precision @ 1 = " in out and "flip TTA" in out
    assert "time to accuracy" in out
    assert os.listdir(os.path.join(trainer.config.train_dir, "eval"))
