"""The flags of the mains, derived from their config dataclasses (convnet.options).

Each setting is declared once, in the config of the layer that owns it (its
default, help, choices and bounds); the groups here define the flags of a
main's configs. Defining is idempotent by name, so groups can be combined.
"""

from convnet import options, recipes
from convnet.compute_config import ComputeConfig
from convnet.data.config import DataConfig
from convnet.evaluation import EvalConfig
from convnet.exporting import ExportConfig
from convnet.inference import InferenceConfig
from convnet.train_config import TrainConfig

config_from_flags = options.from_flags
flag_file = options.flag_file


def define_data_flags() -> None:
    """Data and compute flags (convnet.compare passes them to training and evaluation)."""
    options.define_flags(DataConfig)
    options.define_flags(ComputeConfig)


def define_train_flags() -> None:
    """TrainConfig's flags and --recipe: convnet.train and convnet.bench."""
    options.define_flags(TrainConfig)
    recipes.define_recipe_flag()


def define_eval_flags() -> None:
    """EvalConfig's flags: convnet.eval."""
    options.define_flags(EvalConfig)


def define_inference_flags() -> None:
    """The checkpoint to load and what to take from it: convnet.predict."""
    options.define_flags(InferenceConfig)


def define_export_flags() -> None:
    """InferenceConfig's flags and what to export, where: convnet.export."""
    options.define_flags(ExportConfig)
