"""The alternated old/new step timings of docs/results/engine/README.md: the in-memory training
step of a recipe, each round of STEPS steps followed by one round of 40 chained matmuls (4096x512
in bfloat16, 1024 in float32), so a slow spell of the shared machine shows in both.

    PYTHONPATH=/path/to/tree STEPS=3 ROUNDS=3 TAG=old python steppair.py --recipe=... [flags]

Prints the median examples/s and the median examples/s per TFLOP/s of the paired matmul rounds.
Self-contained (no bench code), so it runs on trees older than the bench's paired peak.
"""

import os
import statistics
import time

from convnet.runtime import quiet_start  # noqa: F401  (first)

# isort: split
import tensorflow as tf

from convnet import training
from convnet.runtime import cli
from convnet.training.setup import TrainingSetup


def matmul_round(dtype):
    """A function running 40 chained matmuls; returns their FLOP/s."""
    m, k = (4096, 512) if dtype == tf.bfloat16 else (1024, 1024)
    x = tf.random.stateless_normal([m, k], [0, 1], dtype=dtype)
    b = tf.random.stateless_normal([k, k], [0, 2], stddev=k ** -0.5, dtype=dtype)

    @tf.function
    def chain(count):
        y = x
        for _ in tf.range(count):
            y = tf.linalg.matmul(y, b)
        return tf.reduce_sum(tf.cast(y[0, :8], tf.float32))

    float(chain(tf.constant(3)))

    def run():
        began = time.perf_counter()
        float(chain(tf.constant(40)))
        return 2 * m * k * k * 40 / (time.perf_counter() - began)

    return run


def main(config):
    config = config.with_settings(nan_policy="skip_batch", progressive_resizing="")
    setup = TrainingSetup(config)
    step, paired = setup.train_step, matmul_round(setup.compute_dtype)
    batch = next(iter(setup.train_dataset(config.data.batch_size)))
    iterator = iter(setup.distribute(tf.data.Dataset.from_tensors(batch).repeat()))
    steps = int(os.environ.get("STEPS", 3))
    float(step(iterator, tf.constant(2, tf.int64))[0])
    rates, per_peak = [], []
    for _ in range(int(os.environ.get("ROUNDS", 5))):
        began = time.perf_counter()
        float(step(iterator, tf.constant(steps, tf.int64))[0])
        rate = steps * config.data.batch_size / (time.perf_counter() - began)
        rates.append(rate)
        per_peak.append(rate / (paired() / 1e12))
    print(f"RESULT {os.environ.get('TAG', '')} ex/s median {statistics.median(rates):.1f} | "
          f"ex/s per paired TFLOP/s median {statistics.median(per_peak):.1f} "
          f"[{' '.join(f'{value:.0f}' for value in per_peak)}]", flush=True)


if __name__ == "__main__":
    cli.run(main, training.TrainConfig, takes_recipe=True)
