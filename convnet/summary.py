"""Print a model's layers: `python -m convnet.summary --model=resnet20 [--dataset=mnist]`.

Like Keras' `model.summary()`: each layer that owns variables or changes the
shape, its output shape and parameter count, then total / trainable /
non-trainable counts (BN moving statistics are non-trainable).
"""

from typing import List, Tuple

import tensorflow as tf
from absl import flags as absl_flags

from convnet import cli, layers, models
from convnet.data import info as data_info

FLAGS = absl_flags.FLAGS


def _is_leaf(layer: layers.Layer) -> bool:
    return not any(isinstance(m, layers.Layer) for m in layer._flatten(  # pylint: disable=protected-access
        predicate=lambda m: isinstance(m, layers.Layer) and m is not layer, recursive=False))


def layer_table(model: layers.Layer, input_shape) -> List[Tuple[str, str, tuple, int]]:
    """Runs one example through `model`; returns (name, type, output shape, params) per leaf layer."""
    rows = []

    def observe(layer, output):
        if _is_leaf(layer):
            name = layer.name_scope.name.rstrip("/")
            params = sum(int(v.shape.num_elements()) for v in layer.variables)
            rows.append((name, type(layer).__name__, (None, *output.shape[1:]), params))

    with layers.observe_calls(observe):
        model(tf.zeros([1, *input_shape]), training=False)
    return rows


def format_summary(model: layers.Layer, input_shape) -> str:
    rows = layer_table(model, input_shape)
    lines = [f"Model: {model.name}   input: {(None, *input_shape)}", "-" * 88,
             f"{'Layer (type)':<48}{'Output Shape':<26}{'Param #':>14}", "=" * 88]
    for name, kind, shape, params in rows:
        lines.append(f"{name + ' (' + kind + ')':<48}{str(shape):<26}{params:>14,}")
    total = models.count_params(model)
    trainable = models.count_trainable_params(model)
    lines += ["=" * 88, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    return "\n".join(lines)


def main() -> None:
    info = data_info.dataset_info(FLAGS.dataset, FLAGS.label_mode)
    model = models.build_model(FLAGS.model, info.num_classes)
    size = model.image_size or info.image_shape[0]
    print(format_summary(model, (size, size, info.image_shape[-1])))


def run() -> None:
    absl_flags.DEFINE_enum("model", "cifar10", sorted(models.MODELS), "Model to summarize.")
    absl_flags.DEFINE_enum("dataset", "cifar10", list(data_info.DATASETS),
                           "Dataset whose input shape and classes to use.")
    absl_flags.DEFINE_enum("label_mode", "fine", list(data_info.LABEL_MODES),
                           "CIFAR-100 labels: fine (100) or coarse (20).")
    cli.run_main(main)


if __name__ == "__main__":
    run()
