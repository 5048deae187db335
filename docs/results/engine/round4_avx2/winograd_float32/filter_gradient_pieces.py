"""Float32 pieces of VGG-16's small-map 3x3 convolutions, min of 7 `tf.function` calls each:
the forward conv, Conv2DBackpropFilter, and the filter gradient as one matmul a tap
(`ops._filter_gradient_by_taps`, which `ops.conv2d` uses only in bfloat16)."""

import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../../.."))
from convnet.nn import ops


def best_ms(fn, *args, reps=7):
    fn = tf.function(fn)
    fn(*args)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn(*args).numpy()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for n, h, c, k in [(128, 4, 512, 512), (128, 4, 256, 512), (128, 2, 512, 512),
                       (128, 8, 256, 256)]:
        x = tf.constant(rng.standard_normal([n, h, h, c]), tf.float32)
        w = tf.constant(rng.standard_normal([3, 3, c, k]) * 0.05, tf.float32)
        dy = tf.constant(rng.standard_normal([n, h, h, k]), tf.float32)
        forward = best_ms(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), x, w)
        shape = w.shape
        kernel = best_ms(lambda x, dy, shape=shape: tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=list(shape), out_backprop=dy, strides=[1, 1, 1, 1],
            padding="SAME"), x, dy)
        taps = best_ms(lambda x, dy, shape=shape: ops._filter_gradient_by_taps(
            x, dy, "SAME", kernel_shape=shape), x, dy)
        print(f"{n}x{h}x{h}x{c}->{k}: forward {forward:.1f} ms  Conv2DBackpropFilter "
              f"{kernel:.1f} ms  taps {taps:.1f} ms", flush=True)
