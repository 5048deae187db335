"""The cuda-convnet model of the TensorFlow CIFAR-10 tutorial (1,068,298 parameters).

conv1 5x5x64 + ReLU -> max-pool 3x3/2 SAME -> LRN -> conv2 5x5x64 + ReLU -> LRN
-> max-pool 3x3/2 SAME -> local3 384 + ReLU -> local4 192 + ReLU -> softmax_linear.
On 24x24 crops the flattened conv output is 6*6*64 = 2,304 values.
Initial values and weight decay follow cifar10.py of the tutorial.
"""


import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import layers

# Input crop size the tutorial trains and evaluates on.
IMAGE_SIZE = 24
# Weight decay of the two fully connected hidden layers (none on the convs or logits).
FC_WEIGHT_DECAY = 0.004


class Cifar10Model(Model):
    """Maps float32 [batch, 24, 24, C] images to [batch, num_classes] logits."""

    image_size = IMAGE_SIZE

    def __init__(self, num_classes: int = 10, weight_decay: float | None = None,
                 name: str = "cifar10"):
        """`weight_decay` replaces the tutorial's 0.004 on local3/local4 when given."""
        super().__init__(num_classes, weight_decay, name=name)
        fc_wd = FC_WEIGHT_DECAY if weight_decay is None else weight_decay
        with self.name_scope:
            self.conv1 = layers.Conv2D(64, 5, stddev=5e-2, wd=None, bias_init=0.0,
                                       activation=tf.nn.relu, name="conv1")
            self.pool1 = layers.MaxPool(3, 2, "SAME", name="pool1")
            self.norm1 = layers.LRN(name="norm1")
            self.conv2 = layers.Conv2D(64, 5, stddev=5e-2, wd=None, bias_init=0.1,
                                       activation=tf.nn.relu, name="conv2")
            self.norm2 = layers.LRN(name="norm2")
            self.pool2 = layers.MaxPool(3, 2, "SAME", name="pool2")
            self.local3 = layers.Dense(384, stddev=0.04, wd=fc_wd, bias_init=0.1,
                                       activation=tf.nn.relu, name="local3")
            self.local4 = layers.Dense(192, stddev=0.04, wd=fc_wd, bias_init=0.1,
                                       activation=tf.nn.relu, name="local4")
            self.softmax_linear = layers.Dense(num_classes, stddev=1 / 192.0, wd=None,
                                               bias_init=0.0, name="softmax_linear")

    def forward(self, inputs, training):
        x = self.norm1(self.pool1(self.conv1(inputs)))
        x = self.pool2(self.norm2(self.conv2(x)))
        x = self.local4(self.local3(x))
        return self.softmax_linear(x)
