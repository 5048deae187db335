"""Scalars from TensorBoard event files, as training and evaluation write them.

Training writes `loss`, `learning_rate` and `examples_per_sec` into its
train_dir; `convnet.eval` writes `precision_at_K` into its --eval_dir (and
`convnet.compare` into `<train_dir>/eval`). Used by `convnet.reports.run_report` and
`convnet.reports.comparison`.
"""

import os
from collections.abc import Iterator

import tensorflow as tf
from google.protobuf import message
from tensorflow.core.util import event_pb2

from convnet.runtime import console
from convnet.runtime.errors import DataError, tf_error_line
from convnet.runtime.plots import Series


def event_files(log_dir: str) -> list[str]:
    """The TensorBoard event files directly in `log_dir`, oldest first."""
    if not tf.io.gfile.isdir(log_dir):
        return []
    return [os.path.join(log_dir, name) for name in sorted(tf.io.gfile.listdir(log_dir))
            if name.startswith("events.out.tfevents")]


def events_of(path: str) -> Iterator[event_pb2.Event]:
    """The events of one event file, in order.

    A truncated last record (a file still being written) ends the file quietly; a damaged
    record (bit rot, an overwritten block) ends it with one line naming the file, and what
    was read before it is kept. The file itself is left as it is.
    """
    try:
        for record in tf.data.TFRecordDataset(path):
            yield event_pb2.Event.FromString(record.numpy())
    except tf.errors.DataLossError as e:
        if "truncated record" not in str(e):
            console.log(f"warning: {path} is damaged ({tf_error_line(e)}): its events after "
                        f"that point are left out (TensorBoard skips them too)")
    except message.DecodeError as e:
        console.log(f"warning: {path} holds a record that is not an event ({e}): its events "
                    f"after it are left out")


def read_event_scalars(log_dir: str) -> dict[str, Series]:
    """Every scalar summary in the event files of `log_dir`: {tag: [(step, value), ...]}.

    Reads TF2 summaries (`tf.summary.scalar` stores a rank-0 tensor) and TF1
    `simple_value`s. A step written twice (a resumed run) keeps its latest value;
    a truncated or damaged record ends its file (`events_of`).
    """
    latest: dict[str, dict[int, tuple[float, float]]] = {}
    for path in event_files(log_dir):
        for event in events_of(path):
            for value in event.summary.value:
                if value.HasField("tensor"):
                    array = tf.make_ndarray(value.tensor)
                    if array.ndim != 0 or array.dtype.kind not in "fiub":
                        continue  # images, histograms, text
                    number = float(array)
                elif value.HasField("simple_value"):
                    number = value.simple_value
                else:
                    continue
                points = latest.setdefault(value.tag, {})
                step = int(event.step)
                if step not in points or event.wall_time >= points[step][0]:
                    points[step] = (event.wall_time, number)
    return {tag: sorted((step, number) for step, (_, number) in points.items())
            for tag, points in latest.items()}


def read_scalars(log_dir: str, tag: str) -> Series:
    """(step, value) pairs of a `tf.summary.scalar` tag in the event files of `log_dir`."""
    return read_event_scalars(log_dir).get(tag, [])


def merge_scalars(into: dict[str, Series], more: dict[str, Series]) -> None:
    """Adds the series of `more` to `into`; a step in both keeps the value of `more`."""
    for tag, series in more.items():
        into[tag] = sorted(dict(into.get(tag, []) + series).items())


def load_run(train_dir: str, eval_dir: str | None = None
             ) -> tuple[dict[str, Series], list[str]]:
    """The scalars of a train_dir, its immediate subdirectories and `eval_dir`, and the
    directories whose events were read.

    Raises:
      DataError: no event files in `train_dir` (or in a given `eval_dir`).
    """
    if not event_files(train_dir):
        raise DataError(f"no TensorBoard event files (events.out.tfevents.*) in {train_dir}: "
                        f"point --train_dir at a directory written by convnet.train.")
    if eval_dir and not event_files(eval_dir):
        raise DataError(f"no TensorBoard event files in --eval_dir={eval_dir}: point it at "
                        f"the --eval_dir of convnet.eval, or leave it out.")
    subdirs = [os.path.join(train_dir, name) for name in sorted(tf.io.gfile.listdir(train_dir))]
    directories = [train_dir] + [d for d in subdirs if event_files(d)]
    if eval_dir and os.path.normpath(eval_dir) not in map(os.path.normpath, directories):
        directories.append(eval_dir)
    scalars: dict[str, Series] = {}
    for directory in directories:
        merge_scalars(scalars, read_event_scalars(directory))
    return scalars, directories
