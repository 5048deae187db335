"""Train and compare models side by side: the logic of `convnet.compare`.

`compare(names, output_dir, max_steps, configs_dir, data_args, eval_examples, time_budget,
epoch_budget)` trains each entry of `names` (a recipe, `<configs_dir>/<name>.flags`, such as
`resnet20` or `alexnet_mnist`; or a model of your own, with the default settings) in
`<output_dir>/runs/<name>` with one budget for all: `max_steps` steps, or `time_budget`
(each run fits its schedule to that wall time: convnet.training.time_budget), or
`epoch_budget` epochs (each recipe scaled to that many). A run already at its end is
reused, not retrained. Each run evaluates the test split after every epoch (curves); every
kept checkpoint is evaluated on the test split (or its first eval_examples) into
`<output_dir>/runs/<name>/eval`. Written to output_dir: `comparison.md` (parameters, model
size on disk, training examples/sec, steps, epochs, test accuracy, wall time),
`results.json`, `loss.png` and `accuracy.png` (against the step), `accuracy_epochs.png` and
`accuracy_seconds.png` (the per-epoch evaluations against the epoch and against the seconds
counted from process start). `data_args` ({flag name: value}; None: left out) go to both
training and evaluation.
"""

import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import tensorflow as tf

from convnet import evaluation, models, recipes
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record
from convnet.reports import events
from convnet.runtime import console, plots
from convnet.runtime.options import check, option
from convnet.training import time_budget

RESULTS_FILE = "results.json"
DEFAULT_MAX_STEPS = 200
CHECKPOINTS = 4  # a step budget's checkpoints (the points of accuracy.png)
ZOO_NAMES = frozenset(models.MODELS)  # the built-in models (each has a shipped recipe)


@dataclasses.dataclass
class CompareConfig:
    """The settings of `convnet.compare` (its flags beside the data and compute ones)."""
    models: Sequence[str] = option(
        ("baseline", "lenet5", "alexnet", "vgg16", "resnet18", "inception"),
        "What to compare: recipes (in --configs_dir: the zoo's models, alexnet_mnist, ...), "
        "or models of your own (package.module:factory, or an entry point's name), which "
        "train with the default settings and the data flags.")
    max_steps: int | None = option(
        None, f"Training steps per model (default: {DEFAULT_MAX_STEPS} when no budget is "
        f"given).", lower_bound=1)
    time_budget: str = option(
        "", "Wall-time budget per model, e.g. 15m: each run fits its recipe's schedule to it "
        "(convnet.train --time_budget).")
    epoch_budget: float | None = option(
        None, "Epochs per model: each recipe scaled to that many (convnet.train "
        "--epoch_budget).", lower_bound=0)
    output_dir: str = option("/tmp/convnet_compare",
                             "Where runs, the table, results.json and the plots go.")
    configs_dir: str = option(recipes.DIRECTORY, "Directory of <name>.flags recipes "
                              "(default: the shipped ones, convnet/recipes).")
    eval_examples: int | None = option(
        None, "Evaluate on the first N test examples (default: all of them).", lower_bound=1)

    def validate(self) -> None:
        check(self, CompareConfig)
        given = [name for name in ("max_steps", "time_budget", "epoch_budget")
                 if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"--{' and --'.join(given)}: give one budget")
        if self.time_budget:
            time_budget.parse_duration(self.time_budget)


def model_size_bytes(model) -> int:
    """Bytes on disk of a checkpoint holding the model's variables alone."""
    with tempfile.TemporaryDirectory() as tmp:
        tf.train.Checkpoint(model=model).write(os.path.join(tmp, "model"))
        return sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))


def budget_flags(max_steps: int | None, time_budget: str = "",
                 epoch_budget: float | None = None) -> list[str]:
    """The convnet.train flags of one budget (default: DEFAULT_MAX_STEPS steps); a step budget
    also spaces CHECKPOINTS checkpoints and 50 log lines over it."""
    if time_budget:
        return [f"--time_budget={time_budget}"]
    if epoch_budget:
        return [f"--epoch_budget={epoch_budget:g}"]
    steps = max_steps or DEFAULT_MAX_STEPS
    return [f"--max_steps={steps}", f"--save_checkpoint_steps={max(1, steps // CHECKPOINTS)}",
            f"--max_checkpoints_to_keep={CHECKPOINTS + 1}",
            f"--log_frequency={max(1, steps // 50)}"]


def _train(name: str, train_dir: str, recipe: str | None, *, budget: list[str],
           extra: list[str]) -> float:
    """Runs convnet.train in a subprocess (its own memory and threads) with the recipe (or,
    a model of your own without one, the default settings), the budget and an evaluation
    after each epoch; returns wall seconds."""
    settings = [f"--flagfile={recipe}"] if recipe else [f"--model={name}"]
    command = [sys.executable, "-m", "convnet.train", *settings, *budget,
               f"--train_dir={train_dir}", "--eval_every_epoch", *extra]
    console.log(f"training {name}: {' '.join(command[3:])}")
    began = time.time()
    done = subprocess.run(command, check=False)
    if done.returncode:
        raise RuntimeError(f"training {name} failed (exit {done.returncode}); see its output above")
    return time.time() - began


def _wall_secs_record(value: object) -> dict[str, float]:
    if not (isinstance(value, dict) and isinstance(value.get("wall_secs", 0.0), (int, float))):
        raise ValueError('not a {"wall_secs": ...} object')
    return value


def _read_record(path: str) -> dict[str, float]:
    """compare.json (the training time of a run compare made); a damaged one is set aside
    (into corrupt/, one line) and its time counted as unknown (0)."""
    return checkpoint_files.read_json_or_set_aside(
        path, _wall_secs_record, "the run's training time is counted from 0") or {}


def recipe_of(name: str, configs_dir: str) -> str | None:
    """The recipe `name` in `configs_dir`; None for a model of your own without one (it
    trains with the default settings and the data flags).

    Raises:
      ValueError: a zoo model without a recipe there.
    """
    recipe = os.path.join(configs_dir, f"{name}.flags")
    if os.path.exists(recipe):
        return recipe
    if name in ZOO_NAMES:
        raise ValueError(f"no recipe for {name}: {recipe} does not exist (the shipped recipes: "
                         f"convnet/recipes/)")
    return None


def _finished(train_dir: str, max_steps: int | None) -> bool:
    """Whether the run in train_dir is at its end: `max_steps` when given, else the step
    budget its run record holds (a time or epoch budget's)."""
    latest = checkpoint_files.latest_checkpoint(train_dir)
    if not latest:
        return False
    target = max_steps
    if target is None:
        record = run_record.read(train_dir)
        target = record.max_steps if record else None
    return target is not None and int(latest.rsplit("-", 1)[1]) >= target


def _per_epoch_curves(train_dir: str, steps_per_epoch: float) -> tuple[list, list]:
    """The run's evaluations after each epoch as (epoch, precision) and (seconds counted from
    process start, precision) series; a resumed run's seconds go on from its earlier launches'
    (convnet.checkpoints.counted_time)."""
    eval_dir = os.path.join(train_dir, "eval")
    precision = dict(events.read_scalars(eval_dir, "precision_at_1"))
    seconds = dict(events.read_scalars(eval_dir, "elapsed_seconds"))
    by_epoch = [(step / steps_per_epoch, value) for step, value in sorted(precision.items())]
    by_seconds = [(seconds[step], value) for step, value in sorted(precision.items())
                  if step in seconds]
    return by_epoch, by_seconds


def compare_model(name: str, output_dir: str, max_steps: int | None, *, configs_dir: str,
                  data_args: dict[str, object], eval_examples: int | None = None,
                  budget: list[str] | None = None) -> dict[str, object]:
    """Trains (or reuses) one run, evaluates its checkpoints, returns its row. `budget`:
    its convnet.train flags (default: `budget_flags(max_steps)`)."""
    recipe = recipe_of(name, configs_dir)
    train_dir = os.path.join(output_dir, "runs", re.sub(r"[^\w.-]", "_", name))
    record_path = os.path.join(train_dir, "compare.json")
    record = {}
    if os.path.exists(record_path):
        record = _read_record(record_path)
    if _finished(train_dir, max_steps):
        console.log(f"reusing the finished run in {train_dir}")
    else:
        extra = [f"--{k}={v}" for k, v in data_args.items() if v is not None]
        record = {"wall_secs": record.get("wall_secs", 0.0)
                  + _train(name, train_dir, recipe, budget=budget or budget_flags(max_steps),
                           extra=extra)}
        with open(record_path, "w", encoding="utf-8") as f:
            json.dump(record, f)

    evaluator = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=train_dir, eval_dir=os.path.join(train_dir, "eval"), run_once=True,
        num_examples=eval_examples, **{k: v for k, v in data_args.items() if v is not None}))
    accuracy, evaluated = [], 0
    for path in checkpoint_files.checkpoint_paths(train_dir):  # kept ones, oldest first
        result = evaluator.evaluate_checkpoint(path)
        accuracy.append((result.step, result.precision))
        evaluated = result.num_examples
    speeds = [v for _, v in events.read_scalars(train_dir, "examples_per_sec")][1:]  # no warm-up
    batch_size = run_record.read(train_dir).batch_size
    steps_per_epoch = evaluator.source.num_examples("train") / batch_size
    by_epoch, by_seconds = _per_epoch_curves(train_dir, steps_per_epoch)
    return {
        "model": name,
        "params": models.count_params(evaluator.model),
        "size_bytes": model_size_bytes(evaluator.model),
        "examples_per_sec": statistics.median(speeds) if speeds else float("nan"),
        "test_accuracy": accuracy[-1][1],
        "test_examples": evaluated,
        "steps": accuracy[-1][0],
        "epochs": accuracy[-1][0] / steps_per_epoch,
        "wall_secs": record.get("wall_secs", float("nan")),
        "loss": events.read_scalars(train_dir, "loss"),
        "accuracy": sorted(accuracy),
        "accuracy_by_epoch": by_epoch,
        "accuracy_by_seconds": by_seconds,
    }


def markdown_table(rows: list[dict[str, object]], budget: str = "") -> str:
    """comparison.md: one row per model, then how each column was measured."""
    lines = ["| model | parameters | size on disk | train examples/sec | steps | epochs "
             "| test accuracy | wall time |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['size_bytes'] / 2 ** 20:.1f} MiB "
                     f"| {r['examples_per_sec']:.1f} | {r['steps']:,} | {r['epochs']:.1f} "
                     f"| {r['test_accuracy']:.3f} | {r['wall_secs'] / 60:.1f} min |")
    counts = sorted({r["test_examples"] for r in rows})
    lines.append(f"\n{budget + '. ' if budget else ''}Test accuracy: precision @ 1 of the last "
                 f"checkpoint (EMA weights) over {' / '.join(f'{c:,}' for c in counts)} test "
                 f"examples; examples/sec: median of the training log after its first line; "
                 f"wall time: the training process (its evaluations after each epoch "
                 f"included).")
    return "\n".join(lines) + "\n"


def describe_budget(max_steps: int | None, time_budget: str = "",
                    epoch_budget: float | None = None) -> str:
    """The budget in words, for the table."""
    if time_budget:
        return f"Budget: {time_budget} of training a model (its schedule fitted to it)"
    if epoch_budget:
        return f"Budget: {epoch_budget:g} epochs a model (its recipe scaled to them)"
    return f"Budget: {max_steps or DEFAULT_MAX_STEPS:,} steps a model"


def compare(model_names: list[str], output_dir: str, max_steps: int | None, *, configs_dir: str,
            data_args: dict[str, object], eval_examples: int | None = None,
            time_budget: str = "", epoch_budget: float | None = None
            ) -> list[dict[str, object]]:
    """Trains (or reuses) and evaluates each entry; writes comparison.md, results.json and the
    plots into `output_dir`; returns the rows of the table."""
    CompareConfig(models=model_names, max_steps=max_steps, time_budget=time_budget,
                  epoch_budget=epoch_budget).validate()
    for name in model_names:
        if os.path.exists(os.path.join(configs_dir, f"{name}.flags")):
            continue  # a recipe
        models.check_name(name)
        if ":" not in name and name not in ZOO_NAMES and name not in {
                entry.name for entry in models.registry.entry_points()}:
            raise ValueError(f"--models: {name!r} is registered in this process only, but each "
                             f"model trains in a process of its own: give it as an import path "
                             f"(package.module:factory) or an entry point of its package.")
        recipe_of(name, configs_dir)
    os.makedirs(output_dir, exist_ok=True)
    budget = budget_flags(max_steps, time_budget, epoch_budget)
    rows = [compare_model(name, output_dir, max_steps, configs_dir=configs_dir, data_args=data_args,
                          eval_examples=eval_examples,
                          budget=budget) for name in model_names]
    table = markdown_table(rows, describe_budget(max_steps, time_budget, epoch_budget))
    with open(os.path.join(output_dir, "comparison.md"), "w", encoding="utf-8") as f:
        f.write(table)
    with open(os.path.join(output_dir, RESULTS_FILE), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    for key, name, ylabel, xlabel, marker in (
            ("loss", "loss", "training loss", "training step", None),
            ("accuracy", "accuracy", "test precision @ 1", "training step", "o"),
            ("accuracy_by_epoch", "accuracy_epochs", "test precision @ 1", "epoch", "o"),
            ("accuracy_by_seconds", "accuracy_seconds", "test precision @ 1",
             "seconds counted from process start (across resumes; evaluations not counted)",
             "o")):
        plots.plot_lines({r["model"]: r[key] for r in rows}, ylabel,
                         os.path.join(output_dir, f"{name}.png"), marker=marker, xlabel=xlabel)
    print(table, flush=True)
    return rows
