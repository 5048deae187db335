"""Plots and a summary of training runs from their TensorBoard events.

    python -m convnet.report --train_dir=/tmp/a[,/tmp/b] [/tmp/c ...] \
        [--eval_dir=/tmp/a_eval[,/tmp/b_eval,...]] --output_dir=/tmp/report

Training writes `loss`, `learning_rate` and `examples_per_sec` into its
train_dir; `convnet.eval` writes `precision_at_K` into its --eval_dir. A run's
evaluation events are read from its train_dir itself, its immediate
subdirectories (e.g. `<train_dir>/eval`, where `convnet.compare` puts them) and,
given --eval_dir (one per train_dir, in the same order; an empty entry skips one),
that directory. Written to --output_dir: `loss.png`, `learning_rate.png` and,
when some run was evaluated, `precision.png` (one line per run, against the
training step), and `summary.md`: per run its last step, final and minimum
loss, last and best precision, and mean training examples/sec.
"""

import math
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf
from absl import flags as absl_flags
from tensorflow.core.util import event_pb2

from convnet import cli, console
from convnet.errors import DataError

FLAGS = absl_flags.FLAGS
Series = List[Tuple[int, float]]  # (step, value), by step
PRECISION_TAG = re.compile(r"^precision_at_(\d+)$")
SUMMARY_FILE = "summary.md"


def event_files(log_dir: str) -> List[str]:
    """The TensorBoard event files directly in `log_dir`, oldest first."""
    if not tf.io.gfile.isdir(log_dir):
        return []
    return [os.path.join(log_dir, name) for name in sorted(tf.io.gfile.listdir(log_dir))
            if name.startswith("events.out.tfevents")]


def read_event_scalars(log_dir: str) -> Dict[str, Series]:
    """Every scalar summary in the event files of `log_dir`: {tag: [(step, value), ...]}.

    Reads TF2 summaries (`tf.summary.scalar` stores a rank-0 tensor) and TF1
    `simple_value`s. A step written twice (a resumed run) keeps its latest value;
    a truncated last record (a file still being written) ends that file.
    """
    latest: Dict[str, Dict[int, Tuple[float, float]]] = {}
    for path in event_files(log_dir):
        try:
            for record in tf.data.TFRecordDataset(path):
                event = event_pb2.Event.FromString(record.numpy())
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
        except tf.errors.DataLossError:
            continue
    return {tag: sorted((step, number) for step, (_, number) in points.items())
            for tag, points in latest.items()}


def _merge(into: Dict[str, Series], more: Dict[str, Series]) -> None:
    for tag, series in more.items():
        into[tag] = sorted(dict(into.get(tag, []) + series).items())


def load_run(train_dir: str, eval_dir: Optional[str] = None
             ) -> Tuple[Dict[str, Series], List[str]]:
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
    scalars: Dict[str, Series] = {}
    for directory in directories:
        _merge(scalars, read_event_scalars(directory))
    return scalars, directories


def precision_tags(scalars: Dict[str, Series]) -> List[Tuple[int, str]]:
    """(k, tag) of the precision_at_K tags present, by k."""
    found = [(int(m.group(1)), tag) for tag in scalars if (m := PRECISION_TAG.match(tag))]
    return sorted(found)


def summarize(scalars: Dict[str, Series]) -> Dict[str, object]:
    """One run's figures: last step, final/min loss, last/best precision@k, mean examples/sec.

    Mean examples/sec leaves out the first logged interval when there are
    others (it includes tracing and the input pipeline's warm-up).
    """
    loss = scalars.get("loss", [])
    speeds = [value for _, value in scalars.get("examples_per_sec", [])]
    steps = [step for series in scalars.values() for step, _ in series]
    row = {"last_step": max(steps) if steps else None,
           "final_loss": loss[-1][1] if loss else None,
           "min_loss": min(loss, key=lambda point: point[1]) if loss else None,
           "examples_per_sec": (sum(speeds[1:]) / len(speeds[1:]) if len(speeds) > 1
                                else speeds[0] if speeds else None),
           "precision": {}}
    for k, tag in precision_tags(scalars):
        series = scalars[tag]
        row["precision"][k] = {"last": series[-1], "best": max(series, key=lambda p: p[1])}
    return row


def _number(value, digits=3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def markdown_summary(runs: Dict[str, Dict[str, Series]],
                     sources: Dict[str, Sequence[str]]) -> str:
    """The summary table of `runs` ({name: scalars}); `sources`: {name: directories read}."""
    rows = {name: summarize(scalars) for name, scalars in runs.items()}
    ks = sorted({k for row in rows.values() for k in row["precision"]})
    header = ["run", "last step", "final loss", "min loss (step)"]
    for k in ks:
        header += [f"last precision @ {k} (step)", f"best precision @ {k} (step)"]
    header.append("mean examples/sec")
    lines = ["# Training report", "", "| " + " | ".join(header) + " |",
             "| --- |" + " ---: |" * (len(header) - 1)]
    for name, row in rows.items():
        min_loss = row["min_loss"]
        cells = [name, "–" if row["last_step"] is None else f"{row['last_step']:,}",
                 _number(row["final_loss"]),
                 f"{_number(min_loss[1])} ({min_loss[0]:,})" if min_loss else "–"]
        for k in ks:
            precision = row["precision"].get(k)
            for key in ("last", "best"):
                cells.append(f"{precision[key][1]:.4f} ({precision[key][0]:,})"
                             if precision else "–")
        cells.append(_number(row["examples_per_sec"], 1))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Losses are the training log's (last batch of each logged interval, with "
              "weight decay); precision is convnet.eval's over its split; mean examples/sec "
              "leaves out the first logged interval (tracing, warm-up).", "", "Read from:"]
    lines += [f"- {name}: {', '.join(sources[name])}" for name in runs]
    return "\n".join(lines) + "\n"


def plot_lines(lines: Dict[str, Series], ylabel: str, path: str, marker=None) -> None:
    """One figure of several (step, value) series against the training step, as PNG."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, series in lines.items():
        steps, values = zip(*series) if series else ((), ())
        axes.plot(steps, values, marker=marker, label=label)
    axes.set_xlim(left=0)
    axes.set_xlabel("training step")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if lines:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _run_names(train_dirs: Sequence[str]) -> List[str]:
    names = [os.path.basename(os.path.normpath(d)) or d for d in train_dirs]
    return [os.path.normpath(d) if names.count(n) > 1 else n for n, d in zip(names, train_dirs)]


def report(train_dirs: Sequence[str], output_dir: str,
           eval_dirs: Sequence[str] = ()) -> Dict[str, str]:
    """Writes the plots and summary.md of `train_dirs` into `output_dir`; returns {name: path}."""
    if not train_dirs:
        raise ValueError("no runs given: pass --train_dir=DIR[,DIR...] (or directories as "
                         "arguments).")
    if eval_dirs and len(eval_dirs) != len(train_dirs):
        raise ValueError(f"--eval_dir lists {len(eval_dirs)} directories for {len(train_dirs)} "
                         f"train dirs: give one per --train_dir, in the same order (an empty "
                         f"entry for a run without one).")
    eval_dirs = list(eval_dirs) or [""] * len(train_dirs)
    runs, sources = {}, {}
    for name, train_dir, eval_dir in zip(_run_names(train_dirs), train_dirs, eval_dirs):
        runs[name], sources[name] = load_run(train_dir, eval_dir or None)
    os.makedirs(output_dir, exist_ok=True)
    written = {}
    for tag, ylabel in (("loss", "training loss"), ("learning_rate", "learning rate")):
        written[tag] = os.path.join(output_dir, f"{tag}.png")
        plot_lines({name: scalars.get(tag, []) for name, scalars in runs.items()}, ylabel,
                   written[tag])
    precision, ks = {}, set()
    for name, scalars in runs.items():
        tags = precision_tags(scalars)
        for k, tag in tags:
            precision[name if len(tags) == 1 else f"{name} (@{k})"] = scalars[tag]
            ks.add(k)
    if precision:
        written["precision"] = os.path.join(output_dir, "precision.png")
        k = ks.pop() if len(ks) == 1 else "k"
        plot_lines(precision, f"evaluation precision @ {k}", written["precision"], marker="o")
    written["summary"] = os.path.join(output_dir, SUMMARY_FILE)
    summary = markdown_summary(runs, sources)
    with open(written["summary"], "w", encoding="utf-8") as f:
        f.write(summary)
    print(summary, flush=True)
    if not precision:
        console.log("no precision_at_K events found: pass --eval_dir to plot evaluation")
    console.log(f"wrote {', '.join(sorted(os.path.basename(p) for p in written.values()))} "
                f"to {output_dir}")
    return written


def main(args: List[str]) -> None:
    report([d for d in FLAGS.train_dir if d] + list(args), FLAGS.output_dir, FLAGS.eval_dir)


def run() -> None:
    absl_flags.DEFINE_list("train_dir", [], "Training directories (comma-separated; more may "
                           "follow the flags as arguments).")
    absl_flags.DEFINE_list("eval_dir", [], "Evaluation directories, one per train_dir in the "
                           "same order (default: each train_dir and its subdirectories).")
    absl_flags.DEFINE_string("output_dir", None, "Where the plots and summary.md go.")
    absl_flags.mark_flag_as_required("output_dir")
    cli.run_main(main, takes_args=True)


if __name__ == "__main__":
    run()
