"""Residual networks: ResNet-18 for CIFAR and the CIFAR ResNets of He et al. (2016).

Both use basic blocks: conv 3x3 (no bias) -> BN -> ReLU -> conv 3x3 (no bias) -> BN,
added to the shortcut, then ReLU.

- `resnet18` (11,183,562 parameters, 9,600 non-trainable): stem conv 64@3x3 -> BN ->
  ReLU; 4 stages of 2 blocks (64, 128, 256, 512 channels, stride 2 at the first block
  of stages 2-4) with a 1x1 conv + BN *projection* shortcut where the shape changes.
- `resnet20/32/56/110` (depth 6n+2, n = 3/5/9/18): stem conv 16@3x3 -> BN -> ReLU;
  3 stages of n blocks (16, 32, 64 channels). Shortcuts are He et al.'s *option A*,
  the one their CIFAR experiments used: identity, and where the shape changes, the
  input subsampled by 2 and zero-padded to the new channel count (no parameters).
  That gives 271,098 / 466,426 / 857,082 / 1,736,058 parameters, of which 1,376 /
  2,272 / 4,064 / 8,096 are BN moving statistics (the paper: 0.27M, 0.46M, 0.85M, 1.7M).
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import layers, ops

SHORTCUTS = ("projection", "zero_pad")


class BasicBlock(layers.Layer):
    """[b, h, w, c] -> [b, h/stride, w/stride, filters]."""

    def __init__(self, filters: int, stride: int = 1, shortcut: str = "projection",
                 *, weight_decay: float | None = None, name: str | None = None):
        super().__init__(name=name)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        self.filters, self.stride, self.shortcut = filters, stride, shortcut
        with self.name_scope:
            self.conv1 = layers.Conv2D(filters, 3, stride, bias_init=None, wd=weight_decay,
                                       name="conv1")
            self.bn1 = layers.BatchNorm(name="bn1")
            self.conv2 = layers.Conv2D(filters, 3, 1, bias_init=None, wd=weight_decay,
                                       name="conv2")
            self.bn2 = layers.BatchNorm(name="bn2")
        self.weight_decay = weight_decay

    def build(self, input_shape):
        self.project = None
        if int(input_shape[-1]) != self.filters or self.stride != 1:
            if self.shortcut == "projection":
                self.project = layers.Sequential([
                    layers.Conv2D(self.filters, 1, self.stride, bias_init=None,
                                  wd=self.weight_decay, name="conv"),
                    layers.BatchNorm(name="bn")], name="projection")

    def _shortcut(self, inputs, training):
        if self.project is not None:
            return self.project(inputs, training=training)
        return ops.subsample_and_pad(inputs, self.stride, self.filters)

    def forward(self, inputs, training):
        x = tf.nn.relu(self.bn1(self.conv1(inputs), training=training))
        x = self.bn2(self.conv2(x), training=training)
        return tf.nn.relu(x + self._shortcut(inputs, training))


class ResNet(Model):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits.

    Args:
      stages: (filters, blocks, first stride) for each stage.
      stem_filters: channels of the first 3x3 conv.
      shortcut: 'projection' or 'zero_pad' (option A).
    """

    image_size = None

    def __init__(self, num_classes: int, stages: Sequence[tuple[int, int, int]],
                 stem_filters: int, *, shortcut: str, weight_decay: float | None = None,
                 name: str = "resnet"):
        super().__init__(num_classes, weight_decay, name=name)
        wd = weight_decay
        with self.name_scope:
            blocks = [layers.Conv2D(stem_filters, 3, bias_init=None, wd=wd, name="stem"),
                      layers.BatchNorm(name="stem_bn"), layers.Activation(tf.nn.relu)]
            for s, (filters, count, stride) in enumerate(stages, start=1):
                for b in range(count):
                    blocks.append(BasicBlock(filters, stride if b == 0 else 1, shortcut,
                                             weight_decay=wd, name=f"stage{s}_block{b + 1}"))
            blocks += [layers.GlobalAvgPool(),
                       layers.Dense(num_classes, stddev="glorot", wd=wd, name="logits")]
            self.body = layers.Sequential(blocks, name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)


def resnet18(num_classes: int = 10, weight_decay: float | None = None) -> ResNet:
    stages = ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))
    return ResNet(num_classes, stages, 64, shortcut="projection", weight_decay=weight_decay,
                  name="resnet18")


def cifar_resnet(depth: int, num_classes: int = 10,
                 weight_decay: float | None = None) -> ResNet:
    """He et al.'s CIFAR ResNet of `depth` = 6n + 2 layers."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
    stages = ((16, n, 1), (32, n, 2), (64, n, 2))
    return ResNet(num_classes, stages, 16, shortcut="zero_pad", weight_decay=weight_decay,
                  name=f"resnet{depth}")
