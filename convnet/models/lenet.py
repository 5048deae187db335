"""LeNet-5 (LeCun et al. 1998) as in the Keras comparisons: 62,006 parameters on 32x32x3.

conv 6@5x5 VALID sigmoid -> max-pool 2/2 -> conv 16@5x5 VALID sigmoid -> max-pool 2/2
-> dense 120 sigmoid -> dense 84 sigmoid -> dense num_classes.
"""

from typing import Optional

import tensorflow as tf

from convnet import layers
from convnet.models.base import Model


class LeNet5(Model):
    """float32 [batch, H, W, C] (H, W >= 16) -> [batch, num_classes] logits."""

    image_size = None

    def __init__(self, num_classes: int = 10, weight_decay: Optional[float] = None,
                 name: str = "lenet5"):
        super().__init__(num_classes, weight_decay, name=name)
        wd, sigmoid = weight_decay, tf.nn.sigmoid
        with self.name_scope:
            self.body = layers.Sequential([
                layers.Conv2D(6, 5, padding="VALID", stddev="glorot", wd=wd, activation=sigmoid,
                              name="conv1"),
                layers.MaxPool(2, 2, "VALID"),
                layers.Conv2D(16, 5, padding="VALID", stddev="glorot", wd=wd, activation=sigmoid,
                              name="conv2"),
                layers.MaxPool(2, 2, "VALID"),
                layers.Flatten(),
                layers.Dense(120, stddev="glorot", wd=wd, activation=sigmoid, name="fc1"),
                layers.Dense(84, stddev="glorot", wd=wd, activation=sigmoid, name="fc2"),
                layers.Dense(num_classes, stddev="glorot", wd=wd, name="logits"),
            ], name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)
