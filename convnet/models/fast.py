"""The airbench networks of the CIFAR-10 speed records (K. Jordan, arXiv 2404.00498).

    whiten   conv 2x2 VALID, C -> 2*C*4 (24 for RGB), frozen patch-whitening kernel
             (`initialize_from_data`), trainable zero-init bias -> GELU
    group i  conv 3x3 SAME (no bias, identity init) -> max-pool 2x2/2 -> BN -> GELU
             -> conv 3x3 SAME (no bias, identity init) -> BN -> GELU,   i = 1, 2, 3
    head     max-pool 3x3/3 -> flatten -> dense num_classes (no bias) -> x 1/9

Widths (group1, group2, group3): `fast93` (64, 128, 128), airbench93's; `fast94`
(64, 256, 256), airbench94's. On 32x32 inputs the spatial size goes 32 -> 31 (whiten)
-> 15 -> 7 -> 3 (the groups' VALID pools, rounding down as PyTorch's MaxPool2d does)
-> 1 (the 3x3 pool), so the dense layer sees `width3` features.

BatchNorm: beta only (scale=False), epsilon 1e-12, momentum 0.6 in convnet's
convention (moving = 0.6 moving + 0.4 batch; PyTorch momentum 0.4). GELU is the
exact (erf) one, PyTorch's default (`ops.gelu`, computed in float32, XLA-fused in
training and evaluation; exported graphs keep plain ops). Kernels start
from PyTorch's default init (uniform +-1/sqrt(fan_in), `layers.TORCH_UNIFORM`), then
each group conv's first in_channels filters are replaced by identity filters
(`Conv2D(identity_init=True)`), so the second conv of each group (in == out) starts
as the identity.

`weight_decay` (None: no decay) is carried by every trainable variable: the conv and
dense kernels, the BN betas and the whitening bias. Variable names
(`fast94/whiten/bias`, `fast94/group1/bn1/beta`, `fast94/group2/conv1/kernel`, ...)
let `--variable_groups` patterns such as 'beta' or 'whiten' select groups.

Parameters on 32x32x3 (BN: beta trainable, moving mean/variance not):
  fast94  whiten 2*2*3*24 (frozen) + 24 = 312
          group1 3*3*24*64 + 3*3*64*64 + 2*3*64        = 13,824 + 36,864 + 384 = 51,072
          group2 3*3*64*256 + 3*3*256*256 + 2*3*256    = 147,456 + 589,824 + 1,536 = 738,816
          group3 2*3*3*256*256 + 2*3*256               = 1,179,648 + 1,536 = 1,181,184
          dense 256*10 = 2,560
          total 1,973,944; non-trainable 288 + 2*2*(64 + 256 + 256) = 2,592
  fast93  whiten 312
          group1 51,072
          group2 3*3*64*128 + 3*3*128*128 + 2*3*128    = 73,728 + 147,456 + 768 = 221,952
          group3 2*3*3*128*128 + 2*3*128               = 294,912 + 768 = 295,680
          dense 128*10 = 1,280
          total 570,296; non-trainable 288 + 2*2*(64 + 128 + 128) = 1,568
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import layers, ops, whitening

# airbench's constants.
WHITEN_KERNEL_SIZE = 2
WHITEN_EPSILON = whitening.DEFAULT_EPSILON  # 5e-4
BATCH_NORM_MOMENTUM = 0.6  # convnet convention: PyTorch's momentum=0.4
BATCH_NORM_EPSILON = 1e-12
LOGIT_SCALE = 1.0 / 9.0
FINAL_POOL = 3  # 3x3 max-pool, stride 3: 3x3 -> 1x1 on 32x32 inputs
INIT_EXAMPLES = 5000  # training images the whitening statistics use
WIDTHS = {"fast93": (64, 128, 128), "fast94": (64, 256, 256)}


class ConvGroup(layers.Layer):
    """conv -> max-pool 2/2 -> BN -> GELU -> conv -> BN -> GELU:
    [b, h, w, c] -> [b, h/2, w/2, filters]."""

    def __init__(self, filters: int, weight_decay: float | None = None,
                 name: str | None = None):
        super().__init__(name=name)
        wd = weight_decay
        conv = dict(kernel_size=3, padding="SAME", stddev=layers.TORCH_UNIFORM, wd=wd,
                    bias_init=None, identity_init=True)
        norm = dict(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, center=True,
                    scale=False, beta_wd=wd)
        with self.name_scope:
            self.conv1 = layers.Conv2D(filters, name="conv1", **conv)
            self.pool = layers.MaxPool(2, 2, "VALID")
            self.bn1 = layers.BatchNorm(name="bn1", **norm)
            self.conv2 = layers.Conv2D(filters, name="conv2", **conv)
            self.bn2 = layers.BatchNorm(name="bn2", **norm)

    def forward(self, inputs, training):
        x = self.pool(self.conv1(inputs), training=training)
        x = ops.gelu(self.bn1(x, training=training))
        return ops.gelu(self.bn2(self.conv2(x), training=training))


class FastNet(Model):
    """float32 [batch, H, W, C] (H, W >= 32 for one output pixel) -> [batch, num_classes].

    Data-dependent init: call `initialize_from_data(images)` once before training
    with `init_examples` preprocessed training images (see `convnet.models.base`).
    """

    image_size = None
    init_examples = INIT_EXAMPLES

    def __init__(self, widths: Sequence[int], num_classes: int = 10,
                 weight_decay: float | None = None, *, name: str = "fast"):
        super().__init__(num_classes, weight_decay, name=name)
        if len(widths) != 3 or any(not isinstance(w, int) or w <= 0 for w in widths):
            raise ValueError(f"widths must be 3 positive ints, got {widths!r}")
        self.widths = tuple(widths)
        with self.name_scope:
            self.groups = [ConvGroup(width, weight_decay, name=f"group{i}")
                           for i, width in enumerate(widths, start=1)]
            self.pool = layers.MaxPool(FINAL_POOL, FINAL_POOL, "VALID")
            self.flatten = layers.Flatten()
            self.logits = layers.Dense(num_classes, stddev=layers.TORCH_UNIFORM, wd=weight_decay,
                                       bias_init=None, name="logits")
            self.scale = layers.Scale(LOGIT_SCALE)

    def build(self, input_shape):
        # The whitening width depends on the input channels: 2 * C * k * k.
        channels = int(input_shape[-1])
        self.whiten = layers.Conv2D(
            2 * channels * WHITEN_KERNEL_SIZE ** 2, WHITEN_KERNEL_SIZE, padding="VALID",
            stddev=layers.TORCH_UNIFORM, kernel_trainable=False, bias_init=0.0,
            bias_wd=self.weight_decay, name="whiten")

    def initialize_from_data(self, images) -> None:
        """Sets the frozen whitening kernel from float32 [N, H, W, C] preprocessed images."""
        images = tf.convert_to_tensor(images, tf.float32)
        if not self.built:
            self(images[:1])
        self.whiten.kernel.assign(
            whitening.patch_whitening_kernel(images, WHITEN_KERNEL_SIZE, WHITEN_EPSILON))

    def forward(self, inputs, training):
        x = ops.gelu(self.whiten(inputs, training=training))
        for group in self.groups:
            x = group(x, training=training)
        x = self.flatten(self.pool(x, training=training), training=training)
        return self.scale(self.logits(x, training=training), training=training)


def fast93(num_classes: int = 10, weight_decay: float | None = None) -> FastNet:
    return FastNet(WIDTHS["fast93"], num_classes, weight_decay, name="fast93")


def fast94(num_classes: int = 10, weight_decay: float | None = None) -> FastNet:
    return FastNet(WIDTHS["fast94"], num_classes, weight_decay, name="fast94")
