"""convnet.flags: each main's flags are exactly its configs' fields, with their defaults."""

import dataclasses

import pytest
from absl import flags

from convnet import options
from convnet.evaluation import EvalConfig
from convnet.exporting import ExportConfig
from convnet.inference import InferenceConfig
from convnet.train_config import TrainConfig


@pytest.mark.parametrize("config_class", [TrainConfig, EvalConfig, InferenceConfig,
                                          ExportConfig])
def test_every_field_is_a_flag_whose_default_is_the_fields(config_class):
    values = flags.FlagValues()
    options.define_flags(config_class, values)
    values(["prog"])
    assert sorted(values) == sorted(f.name for f in dataclasses.fields(config_class))
    from_flags = options.from_flags(config_class, values)
    assert from_flags == config_class()  # one owner of each default


def test_a_train_flag_file_rebuilds_the_config():
    values = flags.FlagValues()
    options.define_flags(TrainConfig, values)
    values(["prog", "--model=resnet20", "--batch_size=256", "--lr_boundary_epochs=1,2",
            "--nodownload", "--weight_decay=5e-4"])
    config = options.from_flags(TrainConfig, values)
    again = flags.FlagValues()
    options.define_flags(TrainConfig, again)
    again(["prog", *options.flag_file(TrainConfig, values).split("\n")[:-1]])
    assert options.from_flags(TrainConfig, again) == config
    assert (config.model, config.batch_size, config.lr_boundary_epochs, config.download) == (
        "resnet20", 256, (1.0, 2.0), False)

