"""`convnet.layers`, the layers of research code: the package `convnet.nn.layers` under its
documented name (`from convnet import layers`)."""

import sys

from convnet.nn import layers

sys.modules[__name__] = layers
