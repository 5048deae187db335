"""The layers with kernels: `Conv2D` and `Dense` (optional bias, activation, weight decay).

Kernels start as `convnet.nn.layers.initializers` draws them; weights are cast to the
input dtype in the forward pass, so the variables stay float32 under mixed precision.
"""


import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.base import ActivationFn, Layer, check_weight_decay
from convnet.nn.layers.initializers import Init, check_init, identity_kernel, initial_kernel


def _check_bias(bias_init: float | None, bias_wd: float | None) -> None:
    if bias_init is None and bias_wd is not None:
        raise ValueError(f"bias_wd={bias_wd} but bias_init=None: there is no bias to decay")


def _bias_variable(bias_init: float | None, size: int, bias_wd: float | None):
    """The constant-initialised bias variable, or None when `bias_init` is None."""
    if bias_init is None:
        return None
    return ops.variable_from_value("bias", tf.fill([size], float(bias_init)), bias_wd)


def _activate(layer, out):
    return layer.activation(out) if layer.activation else out


class Conv2D(Layer):
    """Convolution [b,h,w,c] -> [b,h',w',filters].

    Args:
      filters: output channels.
      kernel_size: int or (kh, kw).
      strides: int or (sh, sw).
      padding: 'SAME' or 'VALID'.
      stddev: kernel init: a truncated-normal stddev, None/'he'/'glorot' (see
        `initial_stddev`), or 'torch_uniform' (PyTorch's default, see `initial_kernel`).
      wd: kernel weight decay (None for none).
      bias_init: constant initial bias, or None for no bias.
      activation: optional function applied to the output (e.g. `tf.nn.relu`).
      identity_init: after the kernel is drawn, output channels o < in_channels
        get the identity ("dirac") filter copying input channel o (`identity_kernel`:
        one tap at (kh // 2, kw // 2), as PyTorch's `nn.init.dirac_`); the others
        keep their draw. So with filters >= in_channels, SAME padding, stride 1
        and an odd kernel, the first in_channels outputs equal the input (plus
        the bias) at initialisation.
      kernel_trainable: False freezes the kernel: a non-trainable variable, in
        `variables` and checkpoints but not `trainable_variables`, so that
        neither the optimizer nor weight decay touch it (then `wd` must be None).
        Set it by assignment, e.g. `convnet.nn.whitening.patch_whitening_kernel`.
      bias_wd: bias weight decay (None for none, the default).
    """

    def __init__(self, filters: int, kernel_size=3, strides=1, *, padding: str = "SAME",
                 stddev: Init = None, wd: float | None = None,
                 bias_init: float | None = 0.0, activation: ActivationFn = None,
                 name: str | None = None, identity_init: bool = False,
                 kernel_trainable: bool = True, bias_wd: float | None = None):
        super().__init__(name=name)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = ops._pair(kernel_size, "kernel_size")
        self.strides = ops._pair(strides, "strides")
        self.padding = ops._check_padding(padding)
        self.stddev = check_init(stddev)
        self.wd = check_weight_decay(wd, "wd")
        self.bias_wd = check_weight_decay(bias_wd, "bias_wd")
        if not kernel_trainable and wd is not None:
            raise ValueError(f"a frozen kernel (kernel_trainable=False) cannot be decayed, "
                             f"got wd={wd}: pass wd=None")
        _check_bias(bias_init, bias_wd)
        self.bias_init, self.activation = bias_init, activation
        self.identity_init, self.kernel_trainable = bool(identity_init), bool(kernel_trainable)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        kh, kw = self.kernel_size
        shape = [kh, kw, in_channels, self.filters]
        initial = initial_kernel(self.stddev, shape, kh * kw * in_channels,
                                 fan_out=kh * kw * self.filters)
        if self.identity_init:
            identity = identity_kernel(self.kernel_size, in_channels, self.filters)
            replaced = tf.range(self.filters) < in_channels  # [filters]
            initial = tf.where(replaced, identity, initial)
        self.kernel = ops.variable_from_value("kernel", initial, self.wd,
                                              trainable=self.kernel_trainable)
        self.bias = _bias_variable(self.bias_init, self.filters, self.bias_wd)

    def forward(self, inputs, training):
        bias = None if self.bias is None else tf.cast(self.bias, inputs.dtype)
        out = ops.conv2d(inputs, tf.cast(self.kernel, inputs.dtype), bias,
                         strides=self.strides, padding=self.padding)
        return _activate(self, out)


class Dense(Layer):
    """Fully connected [b, ...] -> [b, units] (the input is flattened first).

    Args mirror `Conv2D`: `stddev` as in `initial_kernel`, `wd` decays the kernel,
    `bias_wd` the bias (None: no decay), `bias_init=None` for no bias.
    """

    def __init__(self, units: int, stddev: Init = None, wd: float | None = None,
                 *, bias_init: float | None = 0.0, activation: ActivationFn = None,
                 name: str | None = None, bias_wd: float | None = None):
        super().__init__(name=name)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        _check_bias(bias_init, bias_wd)
        self.units, self.stddev = units, check_init(stddev)
        self.wd, self.bias_wd = check_weight_decay(wd, "wd"), check_weight_decay(bias_wd, "bias_wd")
        self.bias_init, self.activation = bias_init, activation

    def build(self, input_shape):
        fan_in = tf.TensorShape(input_shape[1:]).num_elements()
        if fan_in is None:
            raise ValueError(f"Dense needs a static non-batch input shape, got {input_shape}")
        initial = initial_kernel(self.stddev, [fan_in, self.units], fan_in, fan_out=self.units)
        self.kernel = ops.variable_from_value("kernel", initial, self.wd)
        self.bias = _bias_variable(self.bias_init, self.units, self.bias_wd)

    def forward(self, inputs, training):
        bias = None if self.bias is None else tf.cast(self.bias, inputs.dtype)
        out = ops.dense(inputs, tf.cast(self.kernel, inputs.dtype), bias)
        return _activate(self, out)
