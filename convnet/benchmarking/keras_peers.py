"""Figure 4 of the bench: Keras `model.fit` of the same network, in examples/sec.

A Keras 3 peer exists for the models of KERAS_PEERS (cifar10, baseline, lenet5,
resnet20, resnet56, resnet18, vgg16, densenet100_12, fast93, fast94): the same layers,
initializers, weight decay, BatchNorm momentum/epsilon/center/scale and parameter count
(Keras' `count_params` counts the BatchNorm moving statistics and the fast nets' frozen
whitening kernel, as `convnet.models.count_params` does); it is trained by the Keras
optimizer doing our --optimizer's update, with the weight EMA our step also keeps, over
the same input pipeline. The bench times speed only, so where our model initialises from
data (the fast nets' whitening kernel, `initialize_from_data`) the peer keeps the random
initializer that kernel starts from.

`KERAS_PEERS[name](num_classes, weight_decay, policy)` returns either the list of layers
of a `keras.Sequential`, or, for a network with branches, a function from the
`keras.Input` to the logits, which `keras_model` makes a functional `keras.Model`. A
peer's layers with weights are named after our layers' variable scopes, '/' written '.'
(`stage2_block1.conv1` for `resnet20/stage2_block1/conv1/kernel`), so weights can be
matched by name.

Where a peer computes differently from our model (float32 inference differs only by
rounding):
  - Keras' BatchNormalization normalises with composite ops (ours: one fused kernel) and,
    in training, moves its moving variance toward the biased batch variance (ours: the
    unbiased one, n/(n-1) larger);
  - dropout masks come from Keras' seed generator, not ours;
  - the fast nets' GELU is Keras' (autodiff gradient); ours has a hand-written gradient,
    XLA-fused in training, and under a mixed policy computes in float32 where Keras
    computes in the compute dtype.
"""

import time
from collections.abc import Sequence

import keras
import tensorflow as tf

from convnet import training
from convnet.models import cifar10 as cifar10_model
from convnet.models import fast, vgg
from convnet.models.densenet import BOTTLENECK_WIDTH, COMPRESSION, DENSENET_CONFIGS
from convnet.nn import layers as nn_layers
from convnet.nn import ops
from convnet.runtime import precision


class LocalResponseNormalization(keras.layers.Layer):
    """`tf.nn.local_response_normalization` with the tutorial's constants, in float32."""

    def call(self, inputs):
        out = tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), depth_radius=ops.LRN_DEPTH_RADIUS, bias=ops.LRN_BIAS,
            alpha=ops.LRN_ALPHA, beta=ops.LRN_BETA)
        return tf.cast(out, inputs.dtype)


class ZeroPadShortcut(keras.layers.Layer):
    """He et al.'s option-A shortcut (our `BasicBlock(shortcut='zero_pad')`): the input
    subsampled by `stride`, then zero-padded to `filters` channels, half before (rounded
    down) and the rest after. No weights."""

    def __init__(self, filters: int, stride: int, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = filters, stride

    def call(self, inputs):
        x = inputs[:, ::self.stride, ::self.stride, :]
        extra = self.filters - int(inputs.shape[-1])
        return tf.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


class FrozenKernelConv2D(keras.layers.Conv2D):
    """A Conv2D whose kernel is not trainable (no optimizer update, no decay) while its bias
    is: our `Conv2D(kernel_trainable=False)`, the fast nets' whitening conv."""

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel.trainable = False


class TorchUniformIdentity(keras.initializers.Initializer):
    """Our `Conv2D(stddev=TORCH_UNIFORM, identity_init=True)` kernel: PyTorch's
    uniform(+-1/sqrt(fan_in)), then output channels o < in_channels replaced by the
    identity filter copying input channel o (`convnet.nn.layers.identity_kernel`)."""

    def __init__(self):
        self.uniform = _torch_uniform()

    def __call__(self, shape, dtype=None):
        kh, kw, channels, filters = shape
        drawn = tf.convert_to_tensor(self.uniform(shape, dtype))
        identity = tf.cast(nn_layers.identity_kernel((kh, kw), channels, filters), drawn.dtype)
        return tf.where(tf.range(filters) < channels, identity, drawn)


def keras_model(name: str, num_classes: int, image_shape: Sequence[int],
                *, weight_decay: float | None = None, precision: str = "float32"):
    """A Keras 3 equivalent of convnet model `name` (a `keras.Model`), or None when there is
    none.

    Same layers, initializers and weight decay (`wd * l2_loss(w)` is Keras'
    `L2(wd / 2)`), so the same parameter count; maps [batch, *image_shape]
    float32 images to [batch, num_classes] logits. `precision` is the Keras
    dtype policy ('mixed_float16', 'mixed_bfloat16' or 'float32').
    """
    if name not in KERAS_PEERS:
        return None
    policy = None if precision == "float32" else precision
    inputs = keras.Input(tuple(image_shape))
    peer = KERAS_PEERS[name](num_classes, weight_decay, policy)
    if isinstance(peer, list):
        return keras.Sequential([inputs, *peer], name=f"keras_{name}")
    return keras.Model(inputs, peer(inputs), name=f"keras_{name}")


def _l2(wd: float | None):
    return None if wd is None else keras.regularizers.L2(wd / 2.0)


# Kernel initializers, a fresh instance a layer: an unseeded Keras initializer draws the
# same values at every call, so layers of one shape sharing an instance would start equal.
# HeNormal and GlorotNormal are truncated normals, as convnet.layers' None/'he' and 'glorot'.

def _he():
    return keras.initializers.HeNormal()


def _glorot():
    return keras.initializers.GlorotNormal()


def _torch_uniform():
    """Our `TORCH_UNIFORM`: uniform(+-1/sqrt(fan_in)) = uniform(+-sqrt(3 * scale / fan_in))."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def _conv(filters, kernel_size, name, *, weight_decay, policy, strides=1, padding="same",
          use_bias=False, kernel_initializer=None):
    """Our `Conv2D` (SAME/VALID as TensorFlow pads them); He kernel unless given."""
    return keras.layers.Conv2D(filters, kernel_size, strides, padding=padding,
                               use_bias=use_bias, kernel_initializer=kernel_initializer or _he(),
                               kernel_regularizer=_l2(weight_decay), name=name, dtype=policy)


def _batch_norm(name, policy):
    """Our `BatchNorm()`'s defaults: momentum 0.9 (the same convention), epsilon 1e-3,
    gamma and beta, neither decayed."""
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name=name, dtype=policy)


def _relu(policy):
    return keras.layers.Activation("relu", dtype=policy)


def _logits(num_classes, weight_decay, policy):
    """The Glorot dense layer (with bias) ending the ResNets, VGG and DenseNets."""
    return keras.layers.Dense(num_classes, kernel_initializer=_glorot(),
                              kernel_regularizer=_l2(weight_decay), name="logits", dtype=policy)


def _exact_gelu(x):
    """The exact (erf) GELU, as `convnet.nn.ops.gelu`."""
    return keras.activations.gelu(x, approximate=False)


def _cifar10_layers(num_classes, weight_decay, policy):
    """convnet.models.cifar10: the tutorial's cuda-convnet model."""
    fc_wd = cifar10_model.FC_WEIGHT_DECAY if weight_decay is None else weight_decay
    normal, constant = keras.initializers.TruncatedNormal, keras.initializers.Constant

    def conv(name, bias):
        return keras.layers.Conv2D(64, 5, padding="same", activation="relu", name=name,
                                   kernel_initializer=normal(stddev=5e-2),
                                   bias_initializer=constant(bias), dtype=policy)

    def dense(name, units, stddev, *, bias, wd, activation=None):
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
        dense("local3", 384, 0.04, bias=0.1, wd=fc_wd, activation="relu"),
        dense("local4", 192, 0.04, bias=0.1, wd=fc_wd, activation="relu"),
        dense("softmax_linear", num_classes, 1 / 192.0, bias=0.0, wd=None),
    ]


def _baseline_layers(num_classes, weight_decay, policy):
    """convnet.models.baseline (BatchNorm momentum 0.9, epsilon 1e-3 as ours)."""
    wd = dict(kernel_regularizer=_l2(weight_decay), dtype=policy)
    return [
        keras.layers.Conv2D(6, 5, padding="same", kernel_initializer=_he(), name="conv", **wd),
        _batch_norm("bn", policy),
        keras.layers.Activation("relu", dtype=policy),
        keras.layers.MaxPooling2D(2, 2, padding="same", dtype=policy),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(128, activation="relu", kernel_initializer=_he(), name="fc", **wd),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Dense(num_classes, kernel_initializer=_glorot(), name="logits", **wd),
    ]


def _lenet5_layers(num_classes, weight_decay, policy):
    """convnet.models.lenet: sigmoid LeNet-5, Glorot (truncated normal) kernels."""
    def wd():
        return dict(kernel_regularizer=_l2(weight_decay), kernel_initializer=_glorot(),
                    dtype=policy)

    return [
        keras.layers.Conv2D(6, 5, padding="valid", activation="sigmoid", name="conv1", **wd()),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Conv2D(16, 5, padding="valid", activation="sigmoid", name="conv2", **wd()),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(120, activation="sigmoid", name="fc1", **wd()),
        keras.layers.Dense(84, activation="sigmoid", name="fc2", **wd()),
        keras.layers.Dense(num_classes, name="logits", **wd()),
    ]


def _vgg16_layers(num_classes, weight_decay, policy):
    """convnet.models.vgg: conv 3x3 (with bias) -> BN -> ReLU, max-pool 2/2 SAME and dropout
    after each group; flatten, dense 512 ReLU -> dropout twice, then the logits."""
    body = []
    for g, widths in enumerate(vgg.VGG16_GROUPS, start=1):
        for i, width in enumerate(widths, start=1):
            body += [_conv(width, 3, f"conv{g}_{i}", weight_decay=weight_decay, policy=policy,
                           use_bias=True),
                     _batch_norm(f"bn{g}_{i}", policy), _relu(policy)]
        body += [keras.layers.MaxPooling2D(2, 2, padding="same", dtype=policy),
                 keras.layers.Dropout(vgg.DROPOUT_RATE, dtype=policy)]
    body.append(keras.layers.Flatten(dtype=policy))
    for name in ("fc1", "fc2"):
        body += [keras.layers.Dense(512, activation="relu", kernel_initializer=_he(),
                                    kernel_regularizer=_l2(weight_decay), name=name,
                                    dtype=policy),
                 keras.layers.Dropout(vgg.DROPOUT_RATE, dtype=policy)]
    return [*body, _logits(num_classes, weight_decay, policy)]


def _resnet(stages, stem_filters: int, shortcut: str):
    """convnet.models.resnet: stem conv 3x3 -> BN -> ReLU; basic blocks (conv 3x3 -> BN ->
    ReLU -> conv 3x3 -> BN, plus the shortcut, -> ReLU; convs without bias); global average
    pool; logits. `stages`: (filters, blocks, first stride) each; `shortcut` where the shape
    changes: 'projection' (1x1 conv, stride, -> BN) or 'zero_pad' (`ZeroPadShortcut`)."""

    def peer(num_classes, weight_decay, policy):
        def conv(filters, size, strides, *, name):
            return _conv(filters, size, name, weight_decay=weight_decay, policy=policy,
                         strides=strides)

        def block(x, filters, stride, *, scope):
            y = _relu(policy)(_batch_norm(f"{scope}.bn1", policy)(
                conv(filters, 3, stride, name=f"{scope}.conv1")(x)))
            y = _batch_norm(f"{scope}.bn2", policy)(conv(filters, 3, 1, name=f"{scope}.conv2")(y))
            if int(x.shape[-1]) == filters and stride == 1:
                skip = x
            elif shortcut == "projection":
                skip = _batch_norm(f"{scope}.bn", policy)(conv(filters, 1, stride,
                                                               name=f"{scope}.conv")(x))
            else:
                skip = ZeroPadShortcut(filters, stride, dtype=policy)(x)
            return _relu(policy)(keras.layers.Add(dtype=policy)([y, skip]))

        def graph(x):
            x = _relu(policy)(_batch_norm("stem_bn", policy)(conv(stem_filters, 3, 1,
                                                                  name="stem")(x)))
            for s, (filters, count, first_stride) in enumerate(stages, start=1):
                for b in range(count):
                    x = block(x, filters, first_stride if b == 0 else 1,
                              scope=f"stage{s}_block{b + 1}")
            x = keras.layers.GlobalAveragePooling2D(dtype=policy)(x)
            return _logits(num_classes, weight_decay, policy)(x)

        return graph

    return peer


def _cifar_resnet(depth: int):
    """He et al.'s CIFAR ResNet of depth 6n + 2 (`convnet.models.cifar_resnet`)."""
    n = (depth - 2) // 6
    return _resnet(((16, n, 1), (32, n, 2), (64, n, 2)), 16, "zero_pad")


def _densenet(config: str):
    """convnet.models.densenet (DenseNet-BC): stem conv 3x3; dense blocks of bottlenecks
    (BN-ReLU-conv 1x1 to 4k, BN-ReLU-conv 3x3 to k, concatenated onto the input) separated
    by transitions (BN-ReLU-conv 1x1 halving the channels -> avg-pool 2/2 VALID); BN-ReLU,
    global average pool, logits. Convs have no bias."""
    blocks, growth = DENSENET_CONFIGS[config]

    def peer(num_classes, weight_decay, policy):
        def bn_relu_conv(x, filters, size, *, scope, bn, conv):
            x = _relu(policy)(_batch_norm(f"{scope}.{bn}", policy)(x))
            return _conv(filters, size, f"{scope}.{conv}", weight_decay=weight_decay,
                         policy=policy)(x)

        def graph(x):
            x = _conv(2 * growth, 3, "stem", weight_decay=weight_decay, policy=policy)(x)
            for b, count in enumerate(blocks, start=1):
                for i in range(count):
                    scope = f"block{b}_layer{i + 1}"
                    y = bn_relu_conv(x, BOTTLENECK_WIDTH * growth, 1, scope=scope, bn="bn1",
                                     conv="conv1x1")
                    y = bn_relu_conv(y, growth, 3, scope=scope, bn="bn2", conv="conv3x3")
                    x = keras.layers.Concatenate(dtype=policy)([x, y])
                if b < len(blocks):
                    filters = int(int(x.shape[-1]) * COMPRESSION)
                    x = bn_relu_conv(x, filters, 1, scope=f"transition{b}", bn="bn", conv="conv")
                    x = keras.layers.AveragePooling2D(2, 2, padding="valid", dtype=policy)(x)
            x = _relu(policy)(_batch_norm("final_bn", policy)(x))
            x = keras.layers.GlobalAveragePooling2D(dtype=policy)(x)
            return _logits(num_classes, weight_decay, policy)(x)

        return graph

    return peer


def _fast(widths):
    """convnet.models.fast (airbench): whiten (conv 2x2 VALID to 2*C*4 channels, frozen
    kernel, trainable bias) -> GELU; three groups of conv 3x3 -> max-pool 2/2 VALID -> BN ->
    GELU -> conv 3x3 -> BN -> GELU (convs without bias, PyTorch's uniform init with identity
    filters; BN beta only, momentum 0.6, epsilon 1e-12); max-pool 3/3 VALID -> flatten ->
    dense without bias -> x 1/9. `weight_decay` decays every trainable variable: the kernels,
    the BN betas and the whitening bias. The whitening kernel keeps PyTorch's uniform init:
    our `initialize_from_data` is not run (the bench times speed only)."""

    def peer(num_classes, weight_decay, policy):
        wd = _l2(weight_decay)

        def gelu():
            return keras.layers.Activation(_exact_gelu, dtype=policy)

        def conv(filters, name):
            return _conv(filters, 3, name, weight_decay=weight_decay, policy=policy,
                         kernel_initializer=TorchUniformIdentity())

        def batch_norm(name):
            return keras.layers.BatchNormalization(
                momentum=fast.BATCH_NORM_MOMENTUM, epsilon=fast.BATCH_NORM_EPSILON,
                center=True, scale=False, beta_regularizer=_l2(weight_decay), name=name,
                dtype=policy)

        def graph(x):
            size = fast.WHITEN_KERNEL_SIZE
            x = FrozenKernelConv2D(2 * int(x.shape[-1]) * size ** 2, size, padding="valid",
                                   kernel_initializer=_torch_uniform(), bias_regularizer=wd,
                                   name="whiten", dtype=policy)(x)
            x = gelu()(x)
            for g, width in enumerate(widths, start=1):
                x = conv(width, f"group{g}.conv1")(x)
                x = keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy)(x)
                x = gelu()(batch_norm(f"group{g}.bn1")(x))
                x = gelu()(batch_norm(f"group{g}.bn2")(conv(width, f"group{g}.conv2")(x)))
            x = keras.layers.MaxPooling2D(fast.FINAL_POOL, fast.FINAL_POOL, padding="valid",
                                          dtype=policy)(x)
            x = keras.layers.Flatten(dtype=policy)(x)
            x = keras.layers.Dense(num_classes, use_bias=False, kernel_initializer=_torch_uniform(),
                                   kernel_regularizer=wd, name="logits", dtype=policy)(x)
            return keras.layers.Rescaling(fast.LOGIT_SCALE, dtype=policy)(x)

        return graph

    return peer


KERAS_PEERS = {
    "cifar10": _cifar10_layers, "baseline": _baseline_layers, "lenet5": _lenet5_layers,
    "resnet20": _cifar_resnet(20), "resnet56": _cifar_resnet(56),
    "resnet18": _resnet(((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)), 64, "projection"),
    "vgg16": _vgg16_layers, "densenet100_12": _densenet("densenet100_12"),
    "fast93": _fast(fast.WIDTHS["fast93"]), "fast94": _fast(fast.WIDTHS["fast94"]),
}


def keras_optimizer(config: training.TrainConfig):
    """The Keras optimizer doing our --optimizer's update (constant learning rate), with
    the weight EMA our step also keeps; loss-scaled under mixed_float16."""
    ema = dict(use_ema=True, ema_momentum=config.optim.moving_average_decay)
    rate = config.resolved_learning_rate
    if config.optim.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=config.optim.momentum,
                                         nesterov=config.optim.nesterov, **ema)
    elif config.optim.optimizer == "adam":
        optimizer = keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **ema)
    elif config.optim.optimizer == "adadelta":
        optimizer = keras.optimizers.Adadelta(rate, rho=0.95, epsilon=1e-7, **ema)
    else:
        raise ValueError(f"no Keras optimizer for --optimizer={config.optim.optimizer!r}")
    if precision.resolve(config.compute.precision) == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def compile_keras_model(model, config: training.TrainConfig) -> None:
    """Compiles `model` (from `keras_model`) for `model.fit`: `keras_optimizer(config)`,
    cross-entropy on logits, XLA as --xla. Call it in the strategy's scope."""
    model.compile(optimizer=keras_optimizer(config),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=config.compute.xla)


def keras_fit_rates(model, dataset: tf.data.Dataset, batch_size: int, *, steps: int,
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
