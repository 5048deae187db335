"""`convnet.ops`, the op vocabulary of research code: the module `convnet.nn.ops` under its
documented name (`from convnet import ops`)."""

import sys

from convnet.nn import ops

sys.modules[__name__] = ops
