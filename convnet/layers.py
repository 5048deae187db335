"""`convnet.layers`, the layers of research code (`from convnet import layers`): the public
names of `convnet.nn.layers`, re-exported under their documented name."""

from convnet.nn import layers as _nn_layers
from convnet.nn.layers import *  # noqa: F403 (the public names of convnet.nn.layers, re-exported)

# The same names, as type checkers read a re-export (`__all__ += module.__all__`).
__all__: list[str] = []
__all__ += _nn_layers.__all__
