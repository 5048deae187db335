"""Timed rounds and their summary: the rates of figures 1-3 of the bench.

Rates are counts a second of wall time (`time.perf_counter`): images/sec of the
input pipeline, examples/sec (global batch) of the training step. Each figure
runs an untimed warm-up (tracing, caches, prefetch buffers), then `repeats`
timed rounds; a `Figure` keeps the rate of every round.
"""

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import tensorflow as tf

from convnet.runtime import console
from convnet.training.step import TrainStep

# Untimed steps before the rounds of figures 2 and 3: tracing, caches, a full prefetch buffer.
WARM_UP_STEPS = 2


@dataclasses.dataclass
class Figure:
    """Rates of the timed rounds of one figure (e.g. examples/sec), and their summary."""
    name: str
    unit: str
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def to_json(self) -> dict:
        """{unit, median, min, max, q1, q3 (the interquartile range), values}."""
        values = sorted(self.values)
        q1, q3 = ((values[0], values[0]) if len(values) < 2 else
                  statistics.quantiles(values, n=4, method="inclusive")[::2])
        return {"unit": self.unit, "median": self.median, "min": values[0], "max": values[-1],
                "q1": q1, "q3": q3, "values": list(self.values)}


def timed_rounds(run_round: Callable[[], int], repeats: int,
                 warm_up: Callable[[], object] | None = None,
                 *, after_round: Callable[[], object] | None = None) -> list[float]:
    """Runs `warm_up` (default: `run_round`) untimed, then `run_round` `repeats` times, each
    followed by `after_round` (untimed: e.g. a paired measurement); returns count/second of
    each timed round. `run_round` returns what it processed and must synchronize."""
    if repeats <= 0:
        raise ValueError(f"--repeats must be positive, got {repeats}")
    (warm_up or run_round)()
    rates = []
    for _ in range(repeats):
        began = time.perf_counter()
        count = run_round()
        rates.append(count / (time.perf_counter() - began))
        if after_round is not None:
            after_round()
    return rates


def input_rates(dataset: tf.data.Dataset, batch_size: int, steps: int,
                *, repeats: int) -> tuple[list[float], tuple[tf.Tensor, tf.Tensor]]:
    """Images/sec of iterating `steps` batches of `dataset` a round; also a batch of it."""
    iterator = iter(dataset)
    batch = next(iterator)

    def run_round():
        for _ in range(steps):
            next(iterator)
        return steps * batch_size

    return timed_rounds(run_round, repeats), batch


def steps_a_round(step_seconds: float, steps: int, min_round_seconds: float) -> int:
    """The steps of a timed round: `steps`, or as many more as make the round last at least
    `min_round_seconds` at `step_seconds` a step (0 or less: `steps`). A round of a few short
    steps times mostly the machine's moment: 4 steps of ResNet-20 at batch 128 (0.7 s) read
    684-882 examples/s from round to round on a 2-core CPU."""
    if min_round_seconds <= 0 or step_seconds <= 0:
        return steps
    return max(steps, math.ceil(min_round_seconds / step_seconds))


def probe_step_seconds(step: TrainStep, iterator) -> float:
    """Seconds one step of `step` takes, timed after WARM_UP_STEPS untimed ones (tracing,
    caches)."""
    for count in (WARM_UP_STEPS, 1):
        began = time.perf_counter()
        float(step(iterator, tf.constant(count, tf.int64)).loss)  # waits for the steps
    return time.perf_counter() - began


def step_rates(step: TrainStep, iterator, steps: int, *, repeats: int,
               after_round: Callable[[], object] | None = None) -> list[float]:
    """Examples/sec of the training step `step(iterator, steps)` (global batch) a round,
    after WARM_UP_STEPS untimed steps (the step takes the count as a tensor: one trace);
    `after_round` runs untimed after each round."""

    def run_round(count=steps):
        result = step(iterator, tf.constant(count, tf.int64))
        float(result.loss)  # waits for the steps to finish
        skipped = result.skipped
        if int(skipped):
            why = (" (the float16 loss scale settling)" if step.state.loss_scale is not None
                   else "")
            console.log(f"note: {int(skipped)} of {count} batches had a non-finite loss or "
                        f"gradients{why}: computed, but not applied")
        return count * step.batch_size

    return timed_rounds(run_round, repeats, lambda: run_round(min(steps, WARM_UP_STEPS)),
                        after_round=after_round)
