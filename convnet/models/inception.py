"""A small GoogLeNet-style Inception network for CIFAR: 916,586 parameters on 32x32x3.

conv 64@7x7/2 ReLU -> max-pool 3/2 SAME -> inception(64, 96->128, 16->32, pool->32)
-> inception(128, 128->192, 32->96, pool->64) -> max-pool 3/2 SAME
-> inception(192, 96->208, 16->48, pool->64) -> global average pool -> dense.
Every conv has a bias and a ReLU; there is no batch normalization.
"""


import tensorflow as tf

from convnet.models.base import SequentialModel
from convnet.nn import layers


class InceptionBlock(layers.Layer):
    """Four ReLU branches concatenated on channels: 1x1 | 1x1->3x3 | 1x1->5x5 | pool->1x1.

    Output channels: ones + threes + fives + pool_proj.
    """

    def __init__(self, ones: int, threes_reduce: int, threes: int, *, fives_reduce: int, fives: int,
                 pool_proj: int, weight_decay: float | None = None, name: str | None = None):
        super().__init__(name=name)

        def conv(filters, size, label):
            return layers.Conv2D(filters, size, wd=weight_decay, activation=tf.nn.relu, name=label)

        with self.name_scope:
            self.branch1 = conv(ones, 1, "conv1")
            self.branch3 = layers.Sequential([conv(threes_reduce, 1, "reduce3"),
                                              conv(threes, 3, "conv3")], name="branch3")
            self.branch5 = layers.Sequential([conv(fives_reduce, 1, "reduce5"),
                                              conv(fives, 5, "conv5")], name="branch5")
            self.branch_pool = layers.Sequential([layers.MaxPool(3, 1, "SAME"),
                                                  conv(pool_proj, 1, "pool_proj")],
                                                 name="branch_pool")

    def forward(self, inputs, training):
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return tf.concat([b(inputs, training=training) for b in branches], axis=-1)


class Inception(SequentialModel):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits."""

    image_size = None
    preferred_optimizer = "adam"  # no batch normalization: NaN at SGD 0.1
    default_name = "inception"

    def body_layers(self):
        wd = self.weight_decay
        return [
            layers.Conv2D(64, 7, 2, wd=wd, activation=tf.nn.relu, name="stem"),
            layers.MaxPool(3, 2, "SAME"),
            InceptionBlock(64, 96, 128, fives_reduce=16, fives=32, pool_proj=32, weight_decay=wd,
                           name="inception3a"),
            InceptionBlock(128, 128, 192, fives_reduce=32, fives=96, pool_proj=64, weight_decay=wd,
                           name="inception3b"),
            layers.MaxPool(3, 2, "SAME"),
            InceptionBlock(192, 96, 208, fives_reduce=16, fives=48, pool_proj=64, weight_decay=wd,
                           name="inception4a"),
            layers.GlobalAvgPool(),
            layers.Dense(self.num_classes, stddev="glorot", wd=wd, name="logits"),
        ]
