"""The float32 convolution pieces of resnet56's stride-1 layers in TensorFlow (oneDNN on, as
`import convnet` sets it), batch 128, 3x3 SAME, milliseconds, min of 7 calls of a tf.function:
forward, input gradient as convnet takes it (a forward conv with the flipped kernel) and as
Conv2DBackpropInput, filter gradient (Conv2DBackpropFilter). conv_pieces_torch.py is the peer."""

import time

import convnet  # noqa: F401  (before tensorflow: oneDNN on)

# isort: split
import tensorflow as tf

SHAPES = [(32, 16), (16, 32), (8, 64)]  # (height = width, channels in = out)


def best_ms(function, *args) -> float:
    function(*args)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        function(*args).numpy()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    for size, channels in SHAPES:
        x = tf.random.normal([128, size, size, channels])
        w = tf.random.normal([3, 3, channels, channels])
        g = tf.random.normal([128, size, size, channels])
        forward = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
        by_forward = tf.function(lambda g, w: tf.nn.conv2d(
            g, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]), 1, "SAME"))
        backprop_input = tf.function(lambda g, w, x=x: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=w, out_backprop=g, strides=[1, 1, 1, 1],
            padding="SAME"))
        backprop_filter = tf.function(lambda x, g, w=w: tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=tf.shape(w), out_backprop=g, strides=[1, 1, 1, 1],
            padding="SAME"))
        print(f"tf {size}x{size}x{channels}: forward {best_ms(forward, x, w):.2f} "
              f"input-by-forward {best_ms(by_forward, g, w):.2f} "
              f"input-backprop {best_ms(backprop_input, g, w):.2f} "
              f"filter {best_ms(backprop_filter, x, g):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
