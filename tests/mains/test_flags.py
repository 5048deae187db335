"""convnet.runtime.options: each main's flags are exactly its configs' fields, with their
defaults."""


import pytest
from absl import flags

from convnet.benchmarking import BenchSettings
from convnet.evaluation.evaluator import EvalConfig
from convnet.make_shards import ShardConfig
from convnet.reports.comparison import CompareConfig
from convnet.reports.run_report import ReportConfig
from convnet.runtime import options
from convnet.serving.checkpoint_export import ExportConfig
from convnet.serving.loaded_model import InferenceConfig
from convnet.summary import SummaryConfig
from convnet.training.config import TrainConfig

REQUIRED = {ExportConfig: {"export_dir": "/tmp/x"}, ReportConfig: {"output_dir": "/tmp/x"},
            ShardConfig: {"output_dir": "/tmp/x"}}


@pytest.mark.parametrize("config_class", [TrainConfig, EvalConfig, InferenceConfig,
                                          ExportConfig, CompareConfig, ReportConfig,
                                          SummaryConfig, BenchSettings, ShardConfig])
def test_every_field_is_a_flag_whose_default_is_the_fields(config_class):
    """Each main's flags are the fields of its config classes (convnet.train: TrainConfig and
    --recipe; bench: TrainConfig and BenchSettings; compare: CompareConfig, DataConfig and
    ComputeConfig; the others one each)."""
    values = flags.FlagValues()
    options.define_flags(config_class, values)
    required = REQUIRED.get(config_class, {})
    values(["prog", *(f"--{name}={value}" for name, value in required.items())])
    assert sorted(values) == sorted(options.flag_names(config_class))
    from_flags = options.from_flags(config_class, values)
    assert from_flags == options.build(config_class, **required)  # one owner of each default
    if required:  # a required setting missing is refused in code as on the command line
        with pytest.raises(ValueError, match=f"--{next(iter(required))} is required"):
            options.check(config_class())


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
    assert (config.model, config.data.batch_size, config.optim.lr_boundary_epochs,
            config.data.download) == (
        "resnet20", 256, (1.0, 2.0), False)

