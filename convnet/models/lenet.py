"""LeNet-5 (LeCun et al. 1998) as in the Keras comparisons: 62,006 parameters on 32x32x3.

conv 6@5x5 VALID sigmoid -> max-pool 2/2 -> conv 16@5x5 VALID sigmoid -> max-pool 2/2
-> dense 120 sigmoid -> dense 84 sigmoid -> dense num_classes.
"""

import tensorflow as tf

from convnet.models.base import SequentialModel
from convnet.nn import layers


class LeNet5(SequentialModel):
    """float32 [batch, H, W, C] (H, W >= 16) -> [batch, num_classes] logits."""

    image_size = None
    preferred_optimizer = "adam"  # sigmoid units: plain SGD at 0.1 stays at chance
    default_name = "lenet5"

    def body_layers(self):
        wd, sigmoid = self.weight_decay, tf.nn.sigmoid
        return [
            layers.Conv2D(6, 5, padding="VALID", stddev="glorot", wd=wd, activation=sigmoid,
                          name="conv1"),
            layers.MaxPool(2, 2, "VALID"),
            layers.Conv2D(16, 5, padding="VALID", stddev="glorot", wd=wd, activation=sigmoid,
                          name="conv2"),
            layers.MaxPool(2, 2, "VALID"),
            layers.Flatten(),
            layers.Dense(120, stddev="glorot", wd=wd, activation=sigmoid, name="fc1"),
            layers.Dense(84, stddev="glorot", wd=wd, activation=sigmoid, name="fc2"),
            layers.Dense(self.num_classes, stddev="glorot", wd=wd, name="logits"),
        ]
