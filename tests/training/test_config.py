"""TrainConfig: the run's settings and the layers' configs nested by concern, with flat
settings, validated before any TensorFlow op, and the settings of the run it resolves."""

import dataclasses

import pytest

from convnet.data.config import AugmentConfig, DataConfig
from convnet.evaluation.evaluator import EvalConfig
from convnet.optim.config import OptimConfig
from convnet.optim.schedules import Epochs
from convnet.runtime import options
from convnet.runtime.compute import ComputeConfig
from convnet.training.config import DEFAULT_MAX_STEPS, DIVERGENCE_FACTOR, TrainConfig


@pytest.mark.parametrize("overrides, message", [
    (dict(batch_size=0), "--batch_size must be positive"),
    (dict(max_loss=-1.0), "--max_loss must be positive"),
    (dict(num_parallel_calls=0), "--num_parallel_calls must be positive or -1"),
    (dict(data_source="ftp"), "unknown --data_source='ftp'"),
    (dict(nan_policy="ignore"), "unknown --nan_policy='ignore'"),
    (dict(decoupled_hyperparameters=True), "--decoupled_hyperparameters is a form of SGD"),
    (dict(label_smoothing=1.0), "label_smoothing"),
    (dict(histogram_frequency=-1), "--histogram_frequency must be >= 0"),
    (dict(eval_every_steps=-1), "--eval_every_steps must be >= 0"),
    (dict(validation_examples=-1), "--validation_examples must be >= 0"),
    (dict(validation_examples=5), "--validation_examples needs --eval_every_steps"),
    (dict(profile_steps="4,2"), "--profile_steps=START,END needs 0 <= START < END"),
    (dict(profile_steps="4"), "--profile_steps must be START,END"),
])
def test_validate_names_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_settings(**overrides).validate()


def test_steps_and_the_divergence_threshold():
    assert TrainConfig().schedule_steps(Epochs(50000, 128)) == DEFAULT_MAX_STEPS
    assert TrainConfig.from_settings(max_steps=77).schedule_steps(Epochs(50000, 128)) == 77
    assert TrainConfig.from_settings(epochs=11.0, batch_size=1024).schedule_steps(
        Epochs(50000, 1024)) == 538  # ceil(537.1)
    assert TrainConfig().max_loss_for(10) == pytest.approx(DIVERGENCE_FACTOR * 2.302585, 1e-6)
    assert TrainConfig.from_settings(max_loss=5.0).max_loss_for(10) == 5.0


def test_the_settings_are_the_run_fields_and_the_layers_each_once():
    layers = (ComputeConfig, DataConfig, AugmentConfig, OptimConfig)
    nested = {"data": DataConfig, "augment": AugmentConfig, "optim": OptimConfig,
              "compute": ComputeConfig}
    assert dict(options.nested(TrainConfig)) == nested
    run = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in nested]
    names = run + [f.name for layer in layers for f in dataclasses.fields(layer)]
    assert len(names) == len(set(names))
    assert sorted(options.flag_names(TrainConfig)) == sorted(names)
    assert sorted(TrainConfig().settings()) == sorted(names)


def test_the_run_defaults_resolve_the_evaluation_defaults():
    config = TrainConfig()
    assert (config.data.dataset, config.data.label_mode) == ("cifar10", "fine")
    assert DataConfig().dataset is None  # an evaluation takes the run's


def test_the_learning_rate_and_weight_decay_at_the_batch_size():
    config = TrainConfig.from_settings(optimizer="sgd", momentum=0.9, learning_rate=11.5,
                                       weight_decay=0.0153, decoupled_hyperparameters=True,
                                       batch_size=1024)
    assert config.resolved_learning_rate == config.optim.learning_rate_at(1024)
    assert config.resolved_weight_decay == config.optim.weight_decay_at(1024)


def test_the_tensorboard_flags_fill_the_config():
    from absl import flags

    flag_values = flags.FlagValues()
    options.define_flags(TrainConfig, flag_values)
    flag_values(["train", "--histogram_frequency=5", "--profile_steps=3,6",
                 "--eval_every_steps=4", "--validation_examples=7"])
    config = options.from_flags(TrainConfig, flag_values)
    config.validate()
    assert (config.histogram_frequency, config.eval_every_steps,
            config.validation_examples) == (5, 4, 7)
    assert config.profile_range == (3, 6)
    defaults = TrainConfig()
    assert (defaults.histogram_frequency, defaults.eval_every_steps,
            defaults.validation_examples, defaults.profile_range) == (0, 0, 0, None)
    with pytest.raises(flags.IllegalFlagValueError):
        flag_values(["train", "--histogram_frequency=-1"])


def test_the_configs_nest_by_concern_not_by_inheritance():
    """No config inherits another's fields (a field could shadow another's silently): each
    layer's settings are its nested config's, and `config.optim.momentum` is `--momentum`."""
    for config_class in (TrainConfig, EvalConfig, ComputeConfig, DataConfig, AugmentConfig,
                         OptimConfig):
        assert not any(dataclasses.is_dataclass(base) for base in config_class.__mro__[1:])
    config = TrainConfig.from_settings(momentum=0.9, batch_size=64, xla=True, translate=1)
    assert (config.optim.momentum, config.data.batch_size, config.compute.xla,
            config.augment.translate) == (0.9, 64, True, 1)
    assert EvalConfig.from_settings(batch_size=8).data.batch_size == 8
