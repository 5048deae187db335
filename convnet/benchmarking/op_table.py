"""The op table of the training step: where a step's time goes, by TensorFlow op type.

`step_op_table(step, iterator, steps)` runs one call of the step (`steps` batches) under
TensorFlow's profiler and sums the duration of every op event of the trace by op type
(`Conv2DBackpropFilter`, `_MklNativeConv2D`, `Cast`, ...; an XLA-compiled cluster is one
`xla_cluster` row), in milliseconds a step. The durations are summed over the executor's
threads: independent ops run side by side, so the table's total can exceed the step's wall
time, and an op slowed by another beside it counts its whole duration. The bench prints it
with --op_table (and PyTorch's own table beside it with --peer=torch).
"""

import collections
import glob
import os
import shutil
import tempfile
from typing import NamedTuple

import tensorflow as tf

# An op's host event is named 'scope/name:Type' (op names hold no ':'); the other events are
# the runtime's ('ExecutorState::Process', 'Iterator::Root', 'EagerLocalExecute: f', ...), but
# for XLA's executable, which runs a compiled cluster.
_XLA_EVENT = "CpuExecutable::ExecuteAsyncOnStream"


class OpRow(NamedTuple):
    """One op type: milliseconds a step (summed over threads) and calls a step."""
    op_type: str
    ms_per_step: float
    calls_per_step: float


def step_op_table(step, iterator, steps: int, *, top: int = 25) -> list[OpRow]:
    """The `top` op types of one `step(iterator, steps)` call by time, slowest first.

    `step` is a convnet.training.TrainStep already traced and warmed up (else the trace
    holds tracing and the first call's allocations)."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    logdir = tempfile.mkdtemp(prefix="convnet_op_table_")
    try:
        tf.profiler.experimental.start(logdir)
        try:
            float(step(iterator, tf.constant(steps, tf.int64))[0])
        finally:
            tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        if not traces:
            raise RuntimeError(f"the profiler wrote no trace under {logdir}")
        totals, calls = op_durations(traces[0])
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    rows = [OpRow(op, ms / steps, calls[op] / steps) for op, ms in totals.items()]
    return sorted(rows, key=lambda row: -row.ms_per_step)[:top]


def op_durations(xplane_path: str) -> tuple[collections.Counter, collections.Counter]:
    """({op type: milliseconds}, {op type: calls}) of the host ops of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # the profiler's own format

    with open(xplane_path, "rb") as f:
        space = xplane_pb2.XSpace.FromString(f.read())
    totals, calls = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                op_type = _op_type(names.get(event.metadata_id, ""))
                if op_type:
                    totals[op_type] += event.duration_ps / 1e9
                    calls[op_type] += 1
    return totals, calls


def _op_type(event_name: str) -> str | None:
    """'scope/name:Type' -> 'Type'; XLA's executable -> 'xla_cluster'; containers -> None."""
    if event_name == _XLA_EVENT:
        return "xla_cluster"
    name, colon, op_type = event_name.rpartition(":")
    if not colon or not name or "::" in event_name or " " in event_name:
        return None
    return op_type or None


def format_op_table(rows: list[OpRow], title: str) -> str:
    """The rows as text: type, ms a step, share of the listed total, calls a step."""
    total = sum(row.ms_per_step for row in rows) or 1.0
    lines = [title, f"  {'op':<40}{'ms/step':>10}{'share':>8}{'calls':>8}"]
    lines += [f"  {row.op_type[:40]:<40}{row.ms_per_step:>10.1f}"
              f"{100 * row.ms_per_step / total:>7.1f}%{row.calls_per_step:>8.0f}" for row in rows]
    return "\n".join(lines)
