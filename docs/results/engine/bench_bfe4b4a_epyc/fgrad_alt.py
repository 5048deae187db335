"""The filter gradient of a 3x3 SAME stride-1 convolution in bfloat16: TensorFlow's kernel vs
9 shifted matmuls vs im2col + one matmul (fgrad_alt.log; fgrad_alt2.log is the same with
float32 first, at other shapes). `python fgrad_alt.py`, nothing else running."""

import time

import tensorflow as tf

SHAPES = [("r18 512@4", 128, 4, 512, 512), ("r18 256@8", 128, 8, 256, 256),
          ("r18 128@16", 128, 16, 128, 128), ("r20 64@8", 128, 8, 64, 64),
          ("r20 16@32", 128, 32, 16, 16), ("vgg 512@2", 128, 2, 512, 512),
          ("f93 128@7 b2000", 2000, 7, 128, 128)]


def median_ms(fn, n=7):
    fn()
    fn()
    times = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2] * 1000


def time_shape(name, b, hw, ci, co):
    x = tf.cast(tf.random.normal([b, hw, hw, ci]), tf.bfloat16)
    dy = tf.cast(tf.random.normal([b, hw, hw, co]), tf.bfloat16)
    sizes = tf.constant([3, 3, ci, co])

    @tf.function
    def kernel():
        return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=sizes, out_backprop=dy,
                                               strides=[1, 1, 1, 1], padding="SAME")

    def windows():
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return [padded[:, i:i + hw, j:j + hw, :] for i in range(3) for j in range(3)]

    @tf.function
    def shifted():
        d = tf.reshape(dy, [-1, co])
        taps = [tf.matmul(tf.reshape(w, [-1, ci]), d, transpose_a=True) for w in windows()]
        return tf.reshape(tf.stack(taps), [3, 3, ci, co])

    @tf.function
    def im2col():
        cols = tf.reshape(tf.concat(windows(), axis=-1), [-1, 9 * ci])
        return tf.reshape(tf.matmul(cols, tf.reshape(dy, [-1, co]), transpose_a=True),
                          [3, 3, ci, co])

    a, s = tf.cast(kernel(), tf.float32), tf.cast(shifted(), tf.float32)
    err = float(tf.reduce_max(tf.abs(a - s)) / tf.reduce_max(tf.abs(a)))
    ms = [median_ms(lambda f=f: f().numpy()) for f in (kernel, shifted, im2col)]
    gflop = 2 * b * hw * hw * ci * co * 9 / 1e9
    print(f"{name:18s} kernel {ms[0]:7.1f} ms ({gflop / ms[0] * 1e3:4.0f} GF/s)  shifted "
          f"{ms[1]:7.1f} ({gflop / ms[1] * 1e3:4.0f})  im2col {ms[2]:7.1f} "
          f"({gflop / ms[2] * 1e3:4.0f})  rel.diff {err:.3f}", flush=True)



def main():
    for shape in SHAPES:
        time_shape(*shape)

if __name__ == "__main__":
    main()
