"""Kernel initialisation for `convnet.layers`: truncated normals, PyTorch's uniform, identity.

A kernel init (`Init`) is a float (a truncated-normal stddev, the tutorial's way), None
or 'he', 'glorot', or `TORCH_UNIFORM`; `check_init` validates one eagerly and
`initial_kernel` draws it.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

Init = float | str | None

# Standard deviation of a unit normal truncated at +-2 (what Keras divides by).
_TRUNCATED_STDDEV = 0.87962566103423978
# The kernel init of PyTorch's Conv2d and Linear: uniform(+-1/sqrt(fan_in)).
TORCH_UNIFORM = "torch_uniform"


def initial_stddev(init: Init, fan_in: int, fan_out: int) -> float:
    """Truncated-normal stddev for a kernel.

    Args:
      init: a float (used as is, the tutorial's way), None or 'he' (variance
        2/fan_in after truncation, for ReLU layers), or 'glorot' (variance
        2/(fan_in + fan_out), for linear, sigmoid and logit layers).
    """
    if init is None or init == "he":
        return math.sqrt(2.0 / fan_in) / _TRUNCATED_STDDEV
    if init == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STDDEV
    if isinstance(init, (int, float)) and init >= 0:
        return float(init)
    raise ValueError(f"stddev must be a non-negative number, None, 'he', 'glorot' or "
                     f"{TORCH_UNIFORM!r}, got {init!r}")


def check_init(init: Init) -> Init:
    """Validates a kernel init (see `initial_kernel`) eagerly; returns it."""
    if init != TORCH_UNIFORM:
        initial_stddev(init, 1, 1)
    return init


def initial_kernel(init: Init, shape: Sequence[int], fan_in: int, *, fan_out: int) -> tf.Tensor:
    """Initial float32 kernel of `shape`.

    Args:
      init: 'torch_uniform' for uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) -- the
        default of PyTorch's Conv2d and Linear (kaiming_uniform with a=sqrt(5)) --
        else a truncated normal with the stddev `initial_stddev` gives.
    """
    if init == TORCH_UNIFORM:
        bound = 1.0 / math.sqrt(fan_in)
        return tf.random.uniform(shape, -bound, bound)
    return tf.random.truncated_normal(shape, stddev=initial_stddev(init, fan_in, fan_out))


def identity_kernel(kernel_size: Sequence[int], in_channels: int, filters: int) -> tf.Tensor:
    """[kh, kw, in, filters] kernel whose output o < in_channels copies input channel o.

    The one tap is at (kh // 2, kw // 2), as PyTorch's `nn.init.dirac_` puts it, so
    with SAME padding the copy is exact for odd sizes; for even sizes it is the
    lower-right of the four central taps. Outputs o >= in_channels are zero.
    """
    kh, kw = kernel_size
    eye = tf.eye(in_channels, filters)  # [in, filters], 1 where in == out
    return tf.scatter_nd([[kh // 2, kw // 2]], eye[None], [kh, kw, in_channels, filters])
