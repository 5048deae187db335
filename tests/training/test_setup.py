"""TrainingSetup: the data, state, schedule and step of a TrainConfig, writing nothing."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import training
from convnet.data import preprocess
from convnet.training.setup import TrainingSetup


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "never_written"), data_source="synthetic",
                  model="simple3", batch_size=16, shuffle_buffer=32, num_parallel_calls=2,
                  optimizer="sgd", momentum=0.9, learning_rate=0.05, max_steps=4)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


@pytest.mark.slow
def test_the_step_runs_without_a_train_dir(tmp_path):
    setup = TrainingSetup(_config(tmp_path))
    result = setup.run_steps(setup.train_iterator(0), 3)
    loss, finite, skipped, images = result.loss, result.finite, result.skipped, result.images
    assert int(setup.state.step) == 3 and bool(finite) and int(skipped) == 0
    assert np.isfinite(float(loss)) and images.shape[1:] == (32, 32, 3)
    assert not (tmp_path / "never_written").exists()


@pytest.mark.slow
def test_the_settings_it_resolves(tmp_path):
    setup = TrainingSetup(_config(tmp_path, epochs=2.0, max_steps=None, seed=5))
    examples = setup.source.num_examples("train")
    assert setup.source.seed == 5  # synthetic examples follow --seed
    assert setup.steps_per_epoch == examples / 16
    assert setup.schedule_steps == setup.max_steps == -(-2 * examples // 16)
    assert setup.input_shape == [32, 32, 3] and setup.compute_dtype == tf.float32
    assert setup.preprocessing.augmentation == "pad_crop"  # auto, for a model without a crop
    assert float(setup.schedule(0)) == pytest.approx(0.05)


def test_a_resumed_runs_channel_statistics_are_kept(tmp_path):
    previous = preprocess.Preprocessing("pad_crop", 32, "per_channel", (1.0, 2.0, 3.0),
                                        (4.0, 5.0, 6.0), True)
    setup = TrainingSetup(_config(tmp_path), previous=previous)
    assert (setup.preprocessing.channel_mean, setup.preprocessing.channel_std) == (
        (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))


@pytest.mark.slow
def test_a_variable_group_that_matches_nothing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--variable_groups: 'nosuchvar' matches no trainable"):
        TrainingSetup(_config(tmp_path, variable_groups="nosuchvar:lr_scale=2"))
