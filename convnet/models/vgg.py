"""VGG16 with batch normalization for CIFAR: 15,262,026 parameters on 32x32x3.

13 conv 3x3 SAME (64,64 | 128,128 | 256x3 | 512x3 | 512x3), each conv -> BN -> ReLU;
after each group max-pool 2/2 SAME and dropout 0.2; then dense 512 ReLU -> dropout
0.2 -> dense 512 ReLU -> dropout 0.2 -> dense num_classes.
"""


import tensorflow as tf

from convnet.models.base import Model
from convnet.nn import layers

VGG16_GROUPS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
DROPOUT_RATE = 0.2


class VGG(Model):
    """float32 [batch, H, W, C] -> [batch, num_classes] logits."""

    image_size = None

    def __init__(self, num_classes: int = 10, groups=VGG16_GROUPS,
                 weight_decay: float | None = None, *, name: str = "vgg16"):
        super().__init__(num_classes, weight_decay, name=name)
        wd, relu = weight_decay, tf.nn.relu
        body = []
        with self.name_scope:
            for g, filters in enumerate(groups, start=1):
                for i, width in enumerate(filters, start=1):
                    body += [layers.Conv2D(width, 3, wd=wd, name=f"conv{g}_{i}"),
                             layers.BatchNorm(name=f"bn{g}_{i}"), layers.Activation(relu)]
                body += [layers.MaxPool(2, 2, "SAME"), layers.Dropout(DROPOUT_RATE)]
            body += [layers.Flatten(),
                     layers.Dense(512, wd=wd, activation=relu, name="fc1"),
                     layers.Dropout(DROPOUT_RATE),
                     layers.Dense(512, wd=wd, activation=relu, name="fc2"),
                     layers.Dropout(DROPOUT_RATE),
                     layers.Dense(num_classes, stddev="glorot", wd=wd, name="logits")]
            self.body = layers.Sequential(body, name="body")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)
