"""The baseline CNN of the Keras CIFAR-10 comparisons (198,506 parameters on 32x32x3).

conv 6@5x5 SAME -> BN -> ReLU -> max-pool 2x2/2 SAME -> dropout 0.2 -> flatten
-> dense 128 ReLU -> dropout 0.2 -> dense num_classes.
"""

import tensorflow as tf

from convnet.models.base import SequentialModel
from convnet.nn import layers


class Baseline(SequentialModel):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits; any input size."""

    image_size = None  # the dataset's own size
    default_name = "baseline"

    def body_layers(self):
        wd = self.weight_decay
        return [
            layers.Conv2D(6, 5, padding="SAME", wd=wd, name="conv"),
            layers.BatchNorm(name="bn"),
            layers.Activation(tf.nn.relu),
            layers.MaxPool(2, 2, "SAME"),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, wd=wd, activation=tf.nn.relu, name="fc"),
            layers.Dropout(0.2),
            layers.Dense(self.num_classes, wd=wd, stddev="glorot", name="logits"),
        ]
