"""AlexNet scaled to CIFAR as in the Keras comparisons: 9,639,178 parameters on 32x32x3.

conv 96@3x3 VALID -> BN -> ReLU -> max-pool 3/2 -> conv 256@3x3 VALID -> BN -> ReLU
-> max-pool 3/2 -> conv 384@3x3 SAME ReLU -> conv 384@3x3 SAME ReLU -> conv 256@3x3
SAME ReLU -> max-pool 3/2 -> dense 2048 ReLU -> dropout 0.5 -> dense 2048 ReLU ->
dropout 0.5 -> dense num_classes. Pools are VALID (32 -> 30 -> 14 -> 12 -> 5 -> 2).
"""

import tensorflow as tf

from convnet.models.base import SequentialModel
from convnet.nn import layers


class AlexNet(SequentialModel):
    """float32 [batch, H, W, C] (H, W >= 23) -> [batch, num_classes] logits."""

    image_size = None
    preferred_optimizer = "adam"  # five convs (two with BN), two wide dense: NaN at SGD 0.1
    default_name = "alexnet"

    def body_layers(self):
        wd, relu = self.weight_decay, tf.nn.relu
        return [
            layers.Conv2D(96, 3, padding="VALID", wd=wd, name="conv1"),
            layers.BatchNorm(name="bn1"),
            layers.Activation(relu),
            layers.MaxPool(3, 2, "VALID"),
            layers.Conv2D(256, 3, padding="VALID", wd=wd, name="conv2"),
            layers.BatchNorm(name="bn2"),
            layers.Activation(relu),
            layers.MaxPool(3, 2, "VALID"),
            layers.Conv2D(384, 3, wd=wd, activation=relu, name="conv3"),
            layers.Conv2D(384, 3, wd=wd, activation=relu, name="conv4"),
            layers.Conv2D(256, 3, wd=wd, activation=relu, name="conv5"),
            layers.MaxPool(3, 2, "VALID"),
            layers.Flatten(),
            layers.Dense(2048, wd=wd, activation=relu, name="fc1"),
            layers.Dropout(0.5),
            layers.Dense(2048, wd=wd, activation=relu, name="fc2"),
            layers.Dropout(0.5),
            layers.Dense(self.num_classes, stddev="glorot", wd=wd, name="logits"),
        ]
