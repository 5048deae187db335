"""A Keras model as a convnet `Model`: its trainer, checkpoints, evaluator and exporters for
any `keras.Model` (functional, Sequential or subclassed).

`KerasModel(keras_model, num_classes=...)` wraps it; `build_model` wraps what a factory
returns when that is a Keras model, so `--model=my_pkg.nets:keras_cnn` and
`convnet.fit(model=keras_cnn)` work as for convnet's own models. The Keras model maps
float32 [batch, H, W, C] images to [batch, num_classes] logits (no softmax), as the
contract asks.

What carries over:
  * Variables: convnet steps, averages and checkpoints the TensorFlow variables behind the
    Keras ones (`keras.Variable.value`); Keras layers update their own BatchNorm statistics
    in the training call, as under `model.fit`.
  * Weight decay: an L2 regularizer `keras.regularizers.L2(l)` on a weight adds
    `l * sum(w ** 2)` to Keras's loss, which is convnet's `wd * l2_loss(w)` with
    `wd = 2 l`; each such weight carries that `wd` (`convnet.nn.ops.weight_decay_of`).
    `weight_decay` (--weight_decay), when given, replaces it on every kernel. Other
    regularizers (L1) have no convnet form: ValueError.
  * Precision: the layers compute in the dtype of the images convnet's step gives them
    (--precision): with bfloat16 (float16) images, a model whose layers all have Keras's
    default float32 policy is switched to `mixed_bfloat16` (`mixed_float16`): float32
    variables, computation in the lower precision, as `keras.mixed_precision` does. A model
    built with policies of its own keeps them. The logits are cast to float32.

Checkpoints hold the Keras layers' variables under their Keras attribute paths
(`keras_model/_functional/_operations/1/_kernel`), so a run resumes with the same
factory; the variables are created by one call on zeros when the model is first built.
"""

import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import ops

# The Keras dtype policy of each lower-precision compute dtype (`keras.mixed_precision`).
MIXED_POLICIES = {tf.bfloat16: "mixed_bfloat16", tf.float16: "mixed_float16"}


def is_keras_model(obj) -> bool:
    """Whether `obj` is a Keras 3 model (checked without importing Keras first)."""
    return any(cls.__module__.startswith("keras") and cls.__name__ == "Model"
               for cls in type(obj).__mro__)


def _decay_of(variable, regularizer, name: str) -> float | None:
    if regularizer is None:
        return None
    config = regularizer.get_config() if hasattr(regularizer, "get_config") else {}
    l1, l2 = float(config.get("l1", 0.0) or 0.0), config.get("l2")
    if l2 is None or l1:
        raise ValueError(f"{name}: the regularizer {type(regularizer).__name__}({config}) of "
                         f"{variable.path} has no convnet form (convnet's loss adds wd * "
                         f"l2_loss(w): use keras.regularizers.L2, or pass --weight_decay)")
    return 2.0 * float(l2)


class KerasModel(Model):
    """A `keras.Model` under convnet's model contract (see the module docstring).

    Args:
      keras_model: images float32 [batch, H, W, C] -> logits [batch, num_classes].
      num_classes, weight_decay: the contract's keywords (`weight_decay`, when given, is the
        `wd` of every kernel, in place of the Keras regularizers').
      image_size: the square crop it trains on (None: the dataset's size, pad-and-crop).
    """

    def __init__(self, keras_model, num_classes: int = 10, weight_decay: float | None = None,
                 *, image_size: int | None = None, name: str | None = None):
        if not is_keras_model(keras_model):
            raise TypeError(f"KerasModel wraps a keras.Model, got {type(keras_model).__name__}")
        super().__init__(num_classes, weight_decay, name=name or keras_model.name)
        self.keras_model = keras_model
        self.image_size = image_size
        self._policy_set: str | None = None  # the dtype policy `_compute_in` gave the layers

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates the Keras variables (one call on zeros) and gives each its weight decay."""
        logits = self.keras_model(tf.zeros([1, *input_shape[1:]]), training=False).shape
        for variable in self.keras_model.weights:
            wd = _decay_of(variable, getattr(variable, "regularizer", None), self.name)
            if self.weight_decay is not None and variable.path.endswith("kernel"):
                wd = self.weight_decay
            if wd is not None:
                setattr(variable.value, ops.WEIGHT_DECAY_ATTR, wd)
        if logits[-1] != self.num_classes:
            raise ValueError(f"{self.name}: the Keras model gives {logits[-1]} logits, the data "
                             f"has {self.num_classes} classes")

    def forward(self, inputs, training):
        self._compute_in(inputs.dtype)
        return tf.cast(self.keras_model(inputs, training=training), tf.float32)

    def _compute_in(self, dtype: tf.DType) -> None:
        """Gives every layer the mixed policy of `dtype` (float32 for float32) when all have
        Keras's default float32 policy or the one this set before; a model's own policies
        are kept."""
        wanted = MIXED_POLICIES.get(dtype, "float32")
        layers = self.keras_model._flatten_layers(include_self=True)  # noqa: SLF001 (Keras's own walk)
        names = {layer.dtype_policy.name for layer in layers}
        if names == {wanted} or names not in ({"float32"}, {self._policy_set}):
            return
        for layer in layers:
            layer.dtype_policy = wanted
        self._policy_set = wanted

    # tf.Module finds tf.Variables by attribute; Keras keeps its own list of keras.Variables.
    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        return tuple(v.value for v in self.keras_model.trainable_weights)

    @property
    def non_trainable_variables(self) -> tuple[tf.Variable, ...]:
        return tuple(v.value for v in self.keras_model.non_trainable_weights)

    @property
    def variables(self) -> tuple[tf.Variable, ...]:
        return tuple(v.value for v in self.keras_model.weights)
