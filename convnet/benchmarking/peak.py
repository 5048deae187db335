"""Figure 5 of the bench: the matmul peak in FLOP/s, and the machine it runs on.

The peak as TensorFlow reaches it: chained [m, k] x [k, k] matmuls (2 m k^2 FLOPs each) in
the compute dtype, on the first GPU else the CPU, over a few shapes: squares, and the tall
shapes of a convolution's GEMM (many rows, a few hundred columns), which oneDNN's AMX kernels
run fastest on some CPUs. The shapes' rounds are interleaved (each round runs every shape once),
so a slow spell of a shared machine slows every shape alike, and the peak is the **maximum**
over all rounds of all shapes: a ceiling, which a disturbed round cannot lower. (On the 2-core
AMX machines the same shape's rate moved 2-3x between rounds seconds apart, the median with it.)

A `MatmulPeak` also runs single rounds of its fastest shape on demand: the bench pairs each
timed round of the step with one, so the fraction of peak can be taken in the same seconds.
"""

import os
import platform
import time
from collections.abc import Sequence

import tensorflow as tf

# Shapes (m, k) of the peak's chained [m, k] x [k, k] matmuls when --matmul_size=0.
GPU_MATMUL_SHAPES = ((2048, 2048), (4096, 4096), (8192, 8192))
CPU_MATMUL_SHAPES = ((512, 512), (1024, 1024), (2048, 2048), (4096, 512), (8192, 512),
                     (2048, 1024))
# Each timed round of the peak figure chains enough matmuls to last about this long.
PEAK_ROUND_SECS = 0.25


def peak_device() -> str:
    """The device the peak is measured on: the first GPU, else the CPU."""
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else "/device:CPU:0"


def matmul_shapes(matmul_size: int = 0) -> tuple[tuple[int, int], ...]:
    """((matmul_size, matmul_size),), or for 0 GPU_MATMUL_SHAPES with a GPU, else
    CPU_MATMUL_SHAPES."""
    if matmul_size < 0:
        raise ValueError(f"--matmul_size must be positive (or 0 for the default), "
                         f"got {matmul_size}")
    if matmul_size:
        return ((matmul_size, matmul_size),)
    return GPU_MATMUL_SHAPES if tf.config.list_logical_devices("GPU") else CPU_MATMUL_SHAPES


def shape_name(shape: tuple[int, int]) -> str:
    """'1024' for a square, '8192x512' for [8192, 512] x [512, 512]."""
    m, k = shape
    return str(m) if m == k else f"{m}x{k}"


def device_description() -> str:
    """'<count> x <name of the first GPU>', else 'CPU, <cores> cores (<machine>)'."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    return f"CPU, {os.cpu_count()} cores ({platform.machine()})"


@tf.function(reduce_retracing=True)  # one trace for all shapes (per dtype), not one a shape
def _chained_matmuls(x, b, count):
    """x b^count (synchronize on the result's first entries)."""
    y = x
    for _ in tf.range(count):
        y = tf.linalg.matmul(y, b)
    return tf.reduce_sum(tf.cast(y[0, :8], tf.float32))


class _Chain:
    """Chained [m, k] x [k, k] matmuls of one shape; `round()` runs about PEAK_ROUND_SECS of
    them and returns the FLOPs it did (synchronized)."""

    def __init__(self, shape: tuple[int, int], dtype: tf.DType, device: str):
        m, k = shape
        if m <= 0 or k <= 0:
            raise ValueError(f"matmul shapes must be positive, got {shape}")
        self.shape, self.device = shape, device
        with tf.device(device):
            self._x = tf.random.stateless_normal([m, k], [0, 1], dtype=dtype)
            # Entries of variance 1/k keep the chained products' scale near 1.
            self._b = tf.random.stateless_normal([k, k], [0, 2], stddev=k ** -0.5, dtype=dtype)
            self._run(2)  # trace and warm up
            began = time.perf_counter()
            self._run(1)
        self.count = int(min(1000, max(1, PEAK_ROUND_SECS / (time.perf_counter() - began))))

    def _run(self, count: int) -> None:
        float(_chained_matmuls(self._x, self._b, tf.constant(count)))

    def round(self) -> int:
        with tf.device(self.device):
            self._run(self.count)
        m, k = self.shape
        return 2 * m * k * k * self.count


class MatmulPeak:
    """The matmul peak over `shapes` (see the module): `measure(repeats)` times interleaved
    rounds; then `peak` is the maximum FLOP/s, `best_shape` the shape that reached it,
    `by_shape` each shape's maximum, and `round_rates` each round's fastest shape's FLOP/s.
    `paired_round()` runs one more timed round of `best_shape` and returns its FLOP/s."""

    def __init__(self, shapes: Sequence[tuple[int, int]], dtype: tf.DType = tf.float32,
                 device: str | None = None):
        if not shapes:
            raise ValueError("the matmul peak needs at least one shape")
        device = device or peak_device()
        self.chains = [_Chain(tuple(shape), dtype, device) for shape in shapes]
        self.by_shape: dict[tuple[int, int], float] = {}
        self.round_rates: list[float] = []

    def measure(self, repeats: int) -> "MatmulPeak":
        if repeats <= 0:
            raise ValueError(f"--repeats must be positive, got {repeats}")
        rates: dict[tuple[int, int], list[float]] = {chain.shape: [] for chain in self.chains}
        for _ in range(repeats):
            this_round = []
            for chain in self.chains:
                began = time.perf_counter()
                flops = chain.round()
                rate = flops / (time.perf_counter() - began)
                rates[chain.shape].append(rate)
                this_round.append(rate)
            self.round_rates.append(max(this_round))
        self.by_shape = {shape: max(values) for shape, values in rates.items()}
        return self

    @property
    def best_shape(self) -> tuple[int, int]:
        return max(self.by_shape, key=self.by_shape.get)

    @property
    def peak(self) -> float:
        return max(self.by_shape.values())

    def paired_round(self) -> float:
        """FLOP/s of one round of the fastest shape (after `measure`)."""
        chain = next(chain for chain in self.chains if chain.shape == self.best_shape)
        began = time.perf_counter()
        flops = chain.round()
        return flops / (time.perf_counter() - began)
