"""Figure 5 of the bench: the matmul peak in FLOP/s, and the machine it runs on.

The peak as TensorFlow reaches it: chained n x n matmuls (2 n^3 FLOPs each) in
the compute dtype, on the first GPU else the CPU. A few sizes n are tried and
the fastest kept: on CPUs the cache-sized ones win, on GPUs the largest.
"""

import os
import platform
import statistics
import time
from collections.abc import Sequence

import tensorflow as tf

from convnet.benchmarking.timing import timed_rounds

# Square matmul sizes the peak figure tries when --matmul_size=0; it keeps the fastest
# (on CPUs the cache-sized ones win, on GPUs the largest).
GPU_MATMUL_SIZES = (2048, 4096, 8192)
CPU_MATMUL_SIZES = (512, 1024, 2048)
# Each timed round of the peak figure chains enough matmuls to last about this long.
PEAK_ROUND_SECS = 0.25


def peak_device() -> str:
    """The device the peak is measured on: the first GPU, else the CPU."""
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else "/device:CPU:0"


def matmul_sizes(matmul_size: int = 0) -> tuple[int, ...]:
    """(matmul_size,), or for 0 GPU_MATMUL_SIZES with a GPU, else CPU_MATMUL_SIZES."""
    if matmul_size:
        return (matmul_size,)
    return GPU_MATMUL_SIZES if tf.config.list_logical_devices("GPU") else CPU_MATMUL_SIZES


def device_description() -> str:
    """'<count> x <name of the first GPU>', else 'CPU, <cores> cores (<machine>)'."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    return f"CPU, {os.cpu_count()} cores ({platform.machine()})"


def matmul_peak_rates(size: int, repeats: int, dtype: tf.DType = tf.float32,
                      device: str | None = None) -> list[float]:
    """FLOP/s (2 * size**3 a matmul) of chained [size, size] matmuls, a round lasting
    about PEAK_ROUND_SECS."""
    if size <= 0:
        raise ValueError(f"--matmul_size must be positive (or 0 for the default), got {size}")
    with tf.device(device or peak_device()):
        x = tf.random.stateless_normal([size, size], [0, 1], dtype=dtype)
        # Entries of variance 1/size keep the chained products' scale near 1.
        b = tf.random.stateless_normal([size, size], [0, 2], stddev=size ** -0.5, dtype=dtype)

        @tf.function
        def chain(count):
            y = x
            for _ in tf.range(count):
                y = tf.linalg.matmul(y, b)
            return tf.reduce_sum(tf.cast(y[0, :8], tf.float32))

        float(chain(tf.constant(2)))  # trace and warm up
        began = time.perf_counter()
        float(chain(tf.constant(1)))
        count = int(min(1000, max(1, PEAK_ROUND_SECS / (time.perf_counter() - began))))

        def run_round():
            float(chain(tf.constant(count)))
            return 2 * size ** 3 * count

        return timed_rounds(run_round, repeats)


def matmul_peak(sizes: Sequence[int], repeats: int, dtype: tf.DType = tf.float32
                ) -> tuple[int, list[float], dict[int, float]]:
    """The fastest of `sizes`: (size, its rounds' FLOP/s, {size: median FLOP/s})."""
    rounds = {size: matmul_peak_rates(size, repeats, dtype) for size in sizes}
    medians = {size: statistics.median(rates) for size, rates in rounds.items()}
    best = max(medians, key=medians.get)
    return best, rounds[best], medians
