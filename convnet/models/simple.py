"""A small three-conv network, the smallest complete example of the model contract.

conv 16@3x3 SAME ReLU -> max-pool 2/2 SAME -> conv 32@3x3 SAME ReLU -> max-pool 2/2 SAME
-> conv 64@3x3 SAME ReLU -> max-pool 2/2 SAME -> flatten -> dense num_classes.
On 32x32 inputs the spatial size goes 32 -> 16 -> 8 -> 4 (on 28x28: 28 -> 14 -> 7 -> 4),
so the dense layer sees 4*4*64 = 1,024 features either way.

Parameters on 32x32x3 with 10 classes (kernels + biases, nothing non-trainable):
  conv1   3*3*3*16 + 16   =    432 + 16 =    448
  conv2   3*3*16*32 + 32  =  4,608 + 32 =  4,640
  conv3   3*3*32*64 + 64  = 18,432 + 64 = 18,496
  logits  1,024*10 + 10   = 10,240 + 10 = 10,250
  total   448 + 4,640 + 18,496 + 10,250 = 33,834
(100 classes: logits 1,024*100 + 100 = 102,500, total 126,084; 28x28x1: conv1 160, total 33,546.)
"""

import tensorflow as tf

from convnet.models.base import SequentialModel
from convnet.nn import layers

WIDTHS = (16, 32, 64)  # filters of conv1, conv2, conv3


class Simple3(SequentialModel):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits."""

    image_size = None  # the dataset's own size
    default_name = "simple3"
    # No batch normalization: at SGD 0.1 the loss spikes (to 58 in its second step on MNIST's
    # shape), and of 20 runs of 250 steps (tests/models/test_defaults_train.py's data, 10
    # seeds, Eigen and oneDNN) 3 ended at chance, one collapsing after converging; Adam
    # trained all 12 runs tried.
    preferred_optimizer = "adam"

    def body_layers(self):
        body = []
        for i, width in enumerate(WIDTHS, start=1):
            body += [layers.Conv2D(width, 3, wd=self.weight_decay, activation=tf.nn.relu,
                                   name=f"conv{i}"),
                     layers.MaxPool(2, 2, "SAME")]
        return body + [layers.Flatten(), layers.Dense(self.num_classes, stddev="glorot",
                                                      wd=self.weight_decay, name="logits")]
