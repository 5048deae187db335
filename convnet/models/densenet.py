"""DenseNet-BC (Huang et al. 2017) for CIFAR.

conv 2k@3x3 (no bias) -> dense blocks of bottleneck layers (BN-ReLU-conv 4k@1x1,
BN-ReLU-conv k@3x3, concatenated onto the input) separated by transitions
(BN-ReLU-conv 1x1 halving the channels -> avg-pool 2/2) -> BN-ReLU -> global
average pool -> dense. Convs have no bias.

- `densenet100_12` / `densenet100_24`: 3 blocks of 16 bottlenecks, k = 12 / 24
  (793,150 / 3,068,482 parameters).
- `densenet121/169/201`: blocks (6,12,24,16) / (6,12,32,32) / (6,12,48,32), k = 32;
  `densenet161`: (6,12,36,24), k = 48 (7,039,818 / 12,651,594 / 18,333,258 / 26,702,122).
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import layers

COMPRESSION = 0.5
BOTTLENECK_WIDTH = 4  # bottleneck 1x1 conv has 4k filters


class Bottleneck(layers.Layer):
    """[b, h, w, c] -> [b, h, w, c + growth]."""

    def __init__(self, growth: int, weight_decay: float | None = None,
                 name: str | None = None):
        super().__init__(name=name)
        relu = layers.Activation(tf.nn.relu)
        with self.name_scope:
            self.body = layers.Sequential([
                layers.BatchNorm(name="bn1"), relu,
                layers.Conv2D(BOTTLENECK_WIDTH * growth, 1, bias_init=None, wd=weight_decay,
                              name="conv1x1"),
                layers.BatchNorm(name="bn2"), relu,
                layers.Conv2D(growth, 3, bias_init=None, wd=weight_decay, name="conv3x3"),
            ], name="body")

    def forward(self, inputs, training):
        return tf.concat([inputs, self.body(inputs, training=training)], axis=-1)


class Transition(layers.Layer):
    """BN-ReLU-conv 1x1 to floor(c * 0.5) channels, then avg-pool 2/2."""

    def __init__(self, weight_decay: float | None = None, name: str | None = None):
        super().__init__(name=name)
        self.weight_decay = weight_decay

    def build(self, input_shape):
        filters = int(int(input_shape[-1]) * COMPRESSION)
        self.body = layers.Sequential([
            layers.BatchNorm(name="bn"), layers.Activation(tf.nn.relu),
            layers.Conv2D(filters, 1, bias_init=None, wd=self.weight_decay, name="conv"),
            layers.AvgPool(2, 2, "VALID")], name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)


class DenseNet(Model):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits."""

    image_size = None

    def __init__(self, num_classes: int, blocks: Sequence[int], growth: int,
                 *, weight_decay: float | None = None, name: str = "densenet"):
        super().__init__(num_classes, weight_decay, name=name)
        wd = weight_decay
        with self.name_scope:
            body = [layers.Conv2D(2 * growth, 3, bias_init=None, wd=wd, name="stem")]
            for b, count in enumerate(blocks, start=1):
                body += [Bottleneck(growth, wd, name=f"block{b}_layer{i + 1}")
                         for i in range(count)]
                if b < len(blocks):
                    body.append(Transition(wd, name=f"transition{b}"))
            body += [layers.BatchNorm(name="final_bn"), layers.Activation(tf.nn.relu),
                     layers.GlobalAvgPool(),
                     layers.Dense(num_classes, stddev="glorot", wd=wd, name="logits")]
            self.body = layers.Sequential(body, name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)


DENSENET_CONFIGS = {
    "densenet100_12": ((16, 16, 16), 12),
    "densenet100_24": ((16, 16, 16), 24),
    "densenet121": ((6, 12, 24, 16), 32),
    "densenet169": ((6, 12, 32, 32), 32),
    "densenet201": ((6, 12, 48, 32), 32),
    "densenet161": ((6, 12, 36, 24), 48),
}


def densenet(name: str, num_classes: int = 10, weight_decay: float | None = None) -> DenseNet:
    blocks, growth = DENSENET_CONFIGS[name]
    return DenseNet(num_classes, blocks, growth, weight_decay=weight_decay, name=name)
