"""Training-run reports: the figures of each run and the markdown summary, from its events.

`report(train_dirs, output_dir, eval_dirs)` reads each run's TensorBoard
scalars (`convnet.reports.events.load_run`: its train_dir, immediate subdirectories and
eval_dir) and writes into output_dir `loss.png`, `learning_rate.png` and, when
some run was evaluated, `precision.png` (one line per run, against the training
step), and `summary.md`: per run its last step, final and minimum loss, last and
best precision, and mean training examples/sec. `convnet.report` is its main.
"""

import dataclasses
import math
import os
import re
from collections.abc import Sequence

from convnet.reports import events
from convnet.reports.events import Series
from convnet.runtime import console, plots
from convnet.runtime.options import option

PRECISION_TAG = re.compile(r"^precision_at_(\d+)$")
SUMMARY_FILE = "summary.md"


@dataclasses.dataclass
class ReportConfig:
    """The settings of `convnet.report` (its flags)."""
    train_dir: Sequence[str] = option(
        (), "Training directories (comma-separated; more may follow the flags as arguments).")
    eval_dir: Sequence[str] = option(
        (), "Evaluation directories, one per train_dir in the same order (default: each "
        "train_dir and its subdirectories).")
    output_dir: str | None = option(None, "Where the plots and summary.md go.",
                                       required=True)


def precision_tags(scalars: dict[str, Series]) -> list[tuple[int, str]]:
    """(k, tag) of the precision_at_K tags present, by k."""
    found = [(int(m.group(1)), tag) for tag in scalars if (m := PRECISION_TAG.match(tag))]
    return sorted(found)


def summarize(scalars: dict[str, Series]) -> dict[str, object]:
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


def markdown_summary(runs: dict[str, dict[str, Series]],
                     sources: dict[str, Sequence[str]]) -> str:
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


def _run_names(train_dirs: Sequence[str]) -> list[str]:
    names = [os.path.basename(os.path.normpath(d)) or d for d in train_dirs]
    return [os.path.normpath(d) if names.count(n) > 1 else n
            for n, d in zip(names, train_dirs, strict=True)]


def report(train_dirs: Sequence[str], output_dir: str,
           eval_dirs: Sequence[str] = ()) -> dict[str, str]:
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
    for name, train_dir, eval_dir in zip(_run_names(train_dirs), train_dirs, eval_dirs,
                                         strict=True):
        runs[name], sources[name] = events.load_run(train_dir, eval_dir or None)
    os.makedirs(output_dir, exist_ok=True)
    written = {}
    for tag, ylabel in (("loss", "training loss"), ("learning_rate", "learning rate")):
        written[tag] = os.path.join(output_dir, f"{tag}.png")
        plots.plot_lines({name: scalars.get(tag, []) for name, scalars in runs.items()},
                         ylabel, written[tag])
    precision, ks = {}, set()
    for name, scalars in runs.items():
        tags = precision_tags(scalars)
        for k, tag in tags:
            precision[name if len(tags) == 1 else f"{name} (@{k})"] = scalars[tag]
            ks.add(k)
    if precision:
        written["precision"] = os.path.join(output_dir, "precision.png")
        k = ks.pop() if len(ks) == 1 else "k"
        plots.plot_lines(precision, f"evaluation precision @ {k}", written["precision"],
                         marker="o")
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
