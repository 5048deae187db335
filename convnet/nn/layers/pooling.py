"""Pooling and reshaping layers: `MaxPool`, `AvgPool`, `GlobalAvgPool`, `Flatten` (no variables)."""


from convnet.nn import ops
from convnet.nn.layers.base import Layer


class MaxPool(Layer):
    """Max pooling; defaults are the tutorial's 3x3 windows, stride 2, SAME."""

    def __init__(self, ksize=3, strides=2, padding: str = "SAME", *, name: str | None = None):
        super().__init__(name=name)
        self.ksize = ops._pair(ksize, "ksize")
        self.strides = ops._pair(strides, "strides")
        self.padding = ops._check_padding(padding)

    def forward(self, inputs, training):
        return ops.max_pool(inputs, self.ksize, self.strides, padding=self.padding)


class AvgPool(MaxPool):
    """Average pooling; defaults 2x2, stride 2, VALID (DenseNet transitions)."""

    def __init__(self, ksize=2, strides=2, padding: str = "VALID", *, name: str | None = None):
        super().__init__(ksize, strides, padding, name=name)

    def forward(self, inputs, training):
        return ops.avg_pool(inputs, self.ksize, self.strides, padding=self.padding)


class GlobalAvgPool(Layer):
    """[b, h, w, c] -> [b, c]."""

    def forward(self, inputs, training):
        return ops.global_avg_pool(inputs)


class Flatten(Layer):
    """[b, d1, d2, ...] -> [b, d1*d2*...]."""

    def forward(self, inputs, training):
        return ops.flatten(inputs)
