"""The baseline CNN of the Keras CIFAR-10 comparisons (198,506 parameters on 32x32x3).

conv 6@5x5 SAME -> BN -> ReLU -> max-pool 2x2/2 SAME -> dropout 0.2 -> flatten
-> dense 128 ReLU -> dropout 0.2 -> dense num_classes.
"""

from typing import Optional

import tensorflow as tf

from convnet import layers
from convnet.models.base import Model


class Baseline(Model):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits; any input size."""

    image_size = None  # the dataset's own size

    def __init__(self, num_classes: int = 10, weight_decay: Optional[float] = None,
                 name: str = "baseline"):
        super().__init__(num_classes, weight_decay, name=name)
        wd = weight_decay
        with self.name_scope:
            self.body = layers.Sequential([
                layers.Conv2D(6, 5, padding="SAME", wd=wd, name="conv"),
                layers.BatchNorm(name="bn"),
                layers.Activation(tf.nn.relu),
                layers.MaxPool(2, 2, "SAME"),
                layers.Dropout(0.2),
                layers.Flatten(),
                layers.Dense(128, wd=wd, activation=tf.nn.relu, name="fc"),
                layers.Dropout(0.2),
                layers.Dense(num_classes, wd=wd, stddev="glorot", name="logits"),
            ], name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)
