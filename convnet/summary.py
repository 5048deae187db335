"""Print a model's layers: `python -m convnet.summary --model=resnet20 [--dataset=mnist]`.

Like Keras' `model.summary()`: each layer that owns variables or changes the
shape, its output shape and parameter count, then total / trainable /
non-trainable counts (BN moving statistics are non-trainable). (The logic:
`convnet.model_summary`.)
"""

from convnet import quiet_start  # noqa: F401  (first, before TensorFlow: hides its start-up lines)
from absl import flags as absl_flags

from convnet import cli, model_summary, models
from convnet.data import info as data_info
# convnet.memory reads summary.layer_table: kept importable from here.
from convnet.model_summary import format_summary, layer_table  # noqa: F401

FLAGS = absl_flags.FLAGS


def main() -> None:
    info = data_info.dataset_info(FLAGS.dataset, FLAGS.label_mode)
    model = models.build_model(FLAGS.model, info.num_classes)
    size = model.image_size or info.image_shape[0]
    print(model_summary.format_summary(model, (size, size, info.image_shape[-1])))


def run() -> None:
    absl_flags.DEFINE_enum("model", "cifar10", sorted(models.MODELS), "Model to summarize.")
    absl_flags.DEFINE_enum("dataset", "cifar10", list(data_info.DATASETS),
                           "Dataset whose input shape and classes to use.")
    absl_flags.DEFINE_enum("label_mode", "fine", list(data_info.LABEL_MODES),
                           "CIFAR-100 labels: fine (100) or coarse (20).")
    cli.run_main(main)


if __name__ == "__main__":
    run()
