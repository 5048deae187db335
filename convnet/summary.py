"""Print a model's layers: `python -m convnet.summary --model=resnet20 [--dataset=mnist]`.

Like Keras' `model.summary()`: each layer that owns variables or changes the
shape, its output shape and parameter count, then total / trainable /
non-trainable counts (BN moving statistics are non-trainable). (The logic:
`convnet.models.layer_table`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
import dataclasses

from convnet import models
from convnet.data import info as data_info
from convnet.models import layer_table as summary
from convnet.runtime import cli
from convnet.runtime.options import option


@dataclasses.dataclass
class SummaryConfig:
    """The settings of `convnet.summary` (its flags)."""
    model: str = option("cifar10", models.model_help("Model to summarize"))
    dataset: str | None = option(
        None, f"Dataset whose input shape and classes to use (default: "
        f"{data_info.DEFAULT_DATASET}).", choices=data_info.DATASETS)
    label_mode: str | None = option(
        None, f"CIFAR-100 labels: fine (100) or coarse (20) (default: "
        f"{data_info.DEFAULT_LABEL_MODE}).", choices=data_info.LABEL_MODES)


def main(config: SummaryConfig) -> None:
    """The layer table of `config.model` at its input size for `config.dataset`."""
    info = data_info.dataset_info(config.dataset or data_info.DEFAULT_DATASET,
                                  config.label_mode or data_info.DEFAULT_LABEL_MODE)
    model = models.build_model(config.model, info.num_classes)
    size = model.image_size or info.image_shape[0]
    print(summary.format_summary(model, (size, size, info.image_shape[-1])))


def run() -> None:
    cli.run(main, SummaryConfig)


if __name__ == "__main__":
    run()
