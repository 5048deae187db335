"""`convnet.ops`, the op vocabulary of research code (`from convnet import ops`): the public
functions and constants of `convnet.nn.ops`, re-exported under their documented name."""

from convnet.nn import ops as _nn_ops
from convnet.nn.ops import *  # noqa: F403 (the public names of convnet.nn.ops, re-exported)

# The same names, as type checkers read a re-export (`__all__ += module.__all__`).
__all__: list[str] = []
__all__ += _nn_ops.__all__
