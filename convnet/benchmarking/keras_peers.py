"""Figure 4 of the bench: Keras `model.fit` of the same network, in examples/sec.

A Keras 3 peer exists for the models of KERAS_PEERS (cifar10, baseline,
lenet5): the same layers, initializers, weight decay and parameter count; it
is trained by the Keras optimizer doing our --optimizer's update, with the
weight EMA our step also keeps, over the same input pipeline.
"""

import time
from collections.abc import Sequence

import keras
import tensorflow as tf

from convnet import training
from convnet.models import cifar10 as cifar10_model
from convnet.nn import ops
from convnet.runtime import precision


class LocalResponseNormalization(keras.layers.Layer):
    """`tf.nn.local_response_normalization` with the tutorial's constants, in float32."""

    def call(self, inputs):
        out = tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), depth_radius=ops.LRN_DEPTH_RADIUS, bias=ops.LRN_BIAS,
            alpha=ops.LRN_ALPHA, beta=ops.LRN_BETA)
        return tf.cast(out, inputs.dtype)


def keras_model(name: str, num_classes: int, image_shape: Sequence[int],
                weight_decay: float | None = None, precision: str = "float32"):
    """A Keras 3 equivalent of convnet model `name`, or None when there is none.

    Same layers, initializers and weight decay (`wd * l2_loss(w)` is Keras'
    `L2(wd / 2)`), so the same parameter count; maps [batch, *image_shape]
    float32 images to [batch, num_classes] logits. `precision` is the Keras
    dtype policy ('mixed_float16', 'mixed_bfloat16' or 'float32').
    """
    if name not in KERAS_PEERS:
        return None
    policy = None if precision == "float32" else precision
    return keras.Sequential([keras.Input(tuple(image_shape)),
                             *KERAS_PEERS[name](num_classes, weight_decay, policy)],
                            name=f"keras_{name}")


def _l2(wd: float | None):
    return None if wd is None else keras.regularizers.L2(wd / 2.0)


def _cifar10_layers(num_classes, weight_decay, policy):
    """convnet.models.cifar10: the tutorial's cuda-convnet model."""
    fc_wd = cifar10_model.FC_WEIGHT_DECAY if weight_decay is None else weight_decay
    normal, constant = keras.initializers.TruncatedNormal, keras.initializers.Constant

    def conv(name, bias):
        return keras.layers.Conv2D(64, 5, padding="same", activation="relu", name=name,
                                   kernel_initializer=normal(stddev=5e-2),
                                   bias_initializer=constant(bias), dtype=policy)

    def dense(name, units, stddev, bias, wd, activation=None):
        return keras.layers.Dense(units, activation=activation, name=name,
                                  kernel_initializer=normal(stddev=stddev),
                                  bias_initializer=constant(bias), kernel_regularizer=_l2(wd),
                                  dtype=policy)

    return [
        conv("conv1", 0.0),
        keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1", dtype=policy),
        LocalResponseNormalization(name="norm1", dtype=policy),
        conv("conv2", 0.1),
        LocalResponseNormalization(name="norm2", dtype=policy),
        keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2", dtype=policy),
        keras.layers.Flatten(dtype=policy),
        dense("local3", 384, 0.04, 0.1, fc_wd, "relu"),
        dense("local4", 192, 0.04, 0.1, fc_wd, "relu"),
        dense("softmax_linear", num_classes, 1 / 192.0, 0.0, None),
    ]


def _baseline_layers(num_classes, weight_decay, policy):
    """convnet.models.baseline (BatchNorm momentum 0.9, epsilon 1e-3 as ours). HeNormal and
    GlorotNormal are truncated normals, as convnet.layers' None/'he' and 'glorot'."""
    wd = dict(kernel_regularizer=_l2(weight_decay), dtype=policy)
    he, glorot = keras.initializers.HeNormal(), keras.initializers.GlorotNormal()
    return [
        keras.layers.Conv2D(6, 5, padding="same", kernel_initializer=he, name="conv", **wd),
        keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn", dtype=policy),
        keras.layers.Activation("relu", dtype=policy),
        keras.layers.MaxPooling2D(2, 2, padding="same", dtype=policy),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(128, activation="relu", kernel_initializer=he, name="fc", **wd),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Dense(num_classes, kernel_initializer=glorot, name="logits", **wd),
    ]


def _lenet5_layers(num_classes, weight_decay, policy):
    """convnet.models.lenet: sigmoid LeNet-5, Glorot (truncated normal) kernels."""
    wd = dict(kernel_regularizer=_l2(weight_decay),
              kernel_initializer=keras.initializers.GlorotNormal(), dtype=policy)
    return [
        keras.layers.Conv2D(6, 5, padding="valid", activation="sigmoid", name="conv1", **wd),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Conv2D(16, 5, padding="valid", activation="sigmoid", name="conv2", **wd),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(120, activation="sigmoid", name="fc1", **wd),
        keras.layers.Dense(84, activation="sigmoid", name="fc2", **wd),
        keras.layers.Dense(num_classes, name="logits", **wd),
    ]


KERAS_PEERS = {"cifar10": _cifar10_layers, "baseline": _baseline_layers,
               "lenet5": _lenet5_layers}


def keras_optimizer(config: training.TrainConfig):
    """The Keras optimizer doing our --optimizer's update (constant learning rate), with
    the weight EMA our step also keeps; loss-scaled under mixed_float16."""
    ema = dict(use_ema=True, ema_momentum=config.moving_average_decay)
    rate = config.resolved_learning_rate
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=config.momentum,
                                         nesterov=config.nesterov, **ema)
    elif config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **ema)
    elif config.optimizer == "adadelta":
        optimizer = keras.optimizers.Adadelta(rate, rho=0.95, epsilon=1e-7, **ema)
    else:
        raise ValueError(f"no Keras optimizer for --optimizer={config.optimizer!r}")
    if precision.resolve(config.precision) == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def compile_keras_model(model, config: training.TrainConfig) -> None:
    """Compiles `model` (from `keras_model`) for `model.fit`: `keras_optimizer(config)`,
    cross-entropy on logits, XLA as --xla. Call it in the strategy's scope."""
    model.compile(optimizer=keras_optimizer(config),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=config.xla)


def keras_fit_rates(model, dataset: tf.data.Dataset, batch_size: int, steps: int,
                    repeats: int) -> list[float]:
    """Examples/sec of `model.fit` (compiled) epochs of `steps` batches; the first is untimed.

    One fit of 1 + repeats epochs over one iterator of `dataset`; each epoch is
    timed from its start to its end-of-epoch loss (which waits for its steps).
    """
    rates: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float((logs or {}).get("loss", 0.0))
            if epoch:
                rates.append(steps * batch_size / (time.perf_counter() - self.began))

    model.fit(dataset, steps_per_epoch=steps, epochs=repeats + 1, verbose=0,
              shuffle=False, callbacks=[EpochTimer()])
    return rates
