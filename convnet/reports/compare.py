"""Train and compare models side by side: the logic of `convnet.compare`.

`compare(model_names, output_dir, max_steps, configs_dir, data_args)` trains each
model with its recipe (`<configs_dir>/<model>.flags`) for max_steps in
`<output_dir>/runs/<model>` (a run already at max_steps is reused, not
retrained), evaluates every kept checkpoint on the test split (or on its first
eval_examples) into `<output_dir>/runs/<model>/eval`, and writes to output_dir
`comparison.md` (parameters, model size on disk, training examples/sec, test
accuracy, wall time), `results.json`, and `loss.png` and `accuracy.png` (all
models on one figure each). `data_args` ({flag name: value}; None: left out) go
to both training and evaluation.
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
from convnet.reports import events
from convnet.runtime import console, plots
from convnet.runtime.options import option

RESULTS_FILE = "results.json"
ZOO_NAMES = frozenset(models.MODELS)  # the built-in models (each has a shipped recipe)


@dataclasses.dataclass
class CompareConfig:
    """The settings of `convnet.compare` (its flags beside the data and compute ones)."""
    models: Sequence[str] = option(
        ("baseline", "lenet5", "alexnet", "vgg16", "resnet18", "inception"),
        "Models to compare: zoo models train with their recipe (in --configs_dir), your own "
        "(package.module:factory, or an entry point's name) with the default settings and the "
        "data flags.")
    max_steps: int = option(200, "Training steps per model.", lower_bound=1)
    output_dir: str = option("/tmp/convnet_compare",
                             "Where runs, the table, results.json and the plots go.")
    configs_dir: str = option(recipes.DIRECTORY, "Directory of <model>.flags recipes "
                              "(default: the shipped ones, convnet/recipes).")
    eval_examples: int | None = option(
        None, "Evaluate on the first N test examples (default: all of them).", lower_bound=1)


def model_size_bytes(model) -> int:
    """Bytes on disk of a checkpoint holding the model's variables alone."""
    with tempfile.TemporaryDirectory() as tmp:
        tf.train.Checkpoint(model=model).write(os.path.join(tmp, "model"))
        return sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))


def _train(name: str, train_dir: str, recipe: str | None, max_steps: int,
           extra: list[str]) -> float:
    """Runs convnet.train in a subprocess (its own memory and threads) with the model's recipe,
    or (a model of your own without one) the default settings; returns wall seconds."""
    checkpoints = 4
    settings = [f"--flagfile={recipe}"] if recipe else [f"--model={name}"]
    command = [sys.executable, "-m", "convnet.train", *settings,
               f"--max_steps={max_steps}", f"--train_dir={train_dir}",
               f"--save_checkpoint_steps={max(1, max_steps // checkpoints)}",
               f"--max_checkpoints_to_keep={checkpoints + 1}",
               f"--log_frequency={max(1, max_steps // 50)}", *extra]
    console.log(f"training {name}: {' '.join(command[3:])}")
    began = time.time()
    done = subprocess.run(command, check=False)
    if done.returncode:
        raise RuntimeError(f"training {name} failed (exit {done.returncode}); see its output above")
    return time.time() - began


def _read_record(path: str) -> dict[str, float]:
    """compare.json (the training time of a run compare made); a damaged one is set aside
    (into corrupt/, one line) and its time counted as unknown (0)."""
    try:
        with open(path, "rb") as f:
            record = json.loads(f.read().decode("utf-8"))
        if isinstance(record, dict) and isinstance(record.get("wall_secs", 0.0), (int, float)):
            return record
        problem = "not a {\"wall_secs\": ...} object"
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError
        problem = f"not JSON text: {e}"
    moved = checkpoint_files.set_aside(path)
    console.log(f"{path} was damaged ({problem}): set it aside as {moved}; the run's training "
                f"time is counted from 0")
    return {}


def recipe_of(name: str, configs_dir: str) -> str | None:
    """The recipe of model `name` in `configs_dir`; None for a model not in the zoo without
    one (it trains with the default settings and the data flags).

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


def compare_model(name: str, output_dir: str, max_steps: int, configs_dir: str,
                  data_args: dict[str, object],
                  eval_examples: int | None = None) -> dict[str, object]:
    """Trains (or reuses) one model's run, evaluates its checkpoints, returns its row."""
    recipe = recipe_of(name, configs_dir)
    train_dir = os.path.join(output_dir, "runs", re.sub(r"[^\w.-]", "_", name))
    record_path = os.path.join(train_dir, "compare.json")
    latest = checkpoint_files.latest_checkpoint(train_dir)
    record = {}
    if os.path.exists(record_path):
        record = _read_record(record_path)
    finished = latest and int(latest.rsplit("-", 1)[1]) >= max_steps
    if finished:
        console.log(f"reusing the finished run in {train_dir}")
    else:
        extra = [f"--{k}={v}" for k, v in data_args.items() if v is not None]
        record = {"wall_secs": record.get("wall_secs", 0.0)
                  + _train(name, train_dir, recipe, max_steps, extra)}
        with open(record_path, "w", encoding="utf-8") as f:
            json.dump(record, f)

    evaluator = evaluation.Evaluator(evaluation.EvalConfig(
        checkpoint_dir=train_dir, eval_dir=os.path.join(train_dir, "eval"), run_once=True,
        num_examples=eval_examples, **{k: v for k, v in data_args.items() if v is not None}))
    accuracy, evaluated = [], 0
    for path in checkpoint_files.checkpoint_paths(train_dir):  # kept ones, oldest first
        result = evaluator.evaluate_checkpoint(path)
        accuracy.append((result.step, result.precision))
        evaluated = result.num_examples
    speeds = [v for _, v in events.read_scalars(train_dir, "examples_per_sec")][1:]  # no warm-up
    return {
        "model": name,
        "params": models.count_params(evaluator.model),
        "size_bytes": model_size_bytes(evaluator.model),
        "examples_per_sec": statistics.median(speeds) if speeds else float("nan"),
        "test_accuracy": accuracy[-1][1],
        "test_examples": evaluated,
        "steps": accuracy[-1][0],
        "wall_secs": record.get("wall_secs", float("nan")),
        "loss": events.read_scalars(train_dir, "loss"),
        "accuracy": sorted(accuracy),
    }


def markdown_table(rows: list[dict[str, object]]) -> str:
    """comparison.md: one row per model, then how each column was measured."""
    lines = ["| model | parameters | size on disk | train examples/sec | steps | test accuracy "
             "| wall time |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['size_bytes'] / 2 ** 20:.1f} MiB "
                     f"| {r['examples_per_sec']:.1f} | {r['steps']:,} | {r['test_accuracy']:.3f} "
                     f"| {r['wall_secs'] / 60:.1f} min |")
    counts = sorted({r["test_examples"] for r in rows})
    lines.append(f"\nTest accuracy: precision @ 1 of the last checkpoint (EMA weights) over "
                 f"{' / '.join(f'{c:,}' for c in counts)} test examples; examples/sec: median of "
                 f"the training log after its first line; wall time: the training process.")
    return "\n".join(lines) + "\n"


def compare(model_names: list[str], output_dir: str, max_steps: int, configs_dir: str,
            data_args: dict[str, object],
            eval_examples: int | None = None) -> list[dict[str, object]]:
    """Trains (or reuses) and evaluates each model; writes comparison.md, results.json,
    loss.png and accuracy.png into `output_dir`; returns the rows of the table."""
    for name in model_names:
        models.check_name(name)
        if ":" not in name and name not in ZOO_NAMES and name not in {
                entry.name for entry in models.registry.entry_points()}:
            raise ValueError(f"--models: {name!r} is registered in this process only, but each "
                             f"model trains in a process of its own: give it as an import path "
                             f"(package.module:factory) or an entry point of its package.")
        recipe_of(name, configs_dir)
    os.makedirs(output_dir, exist_ok=True)
    rows = [compare_model(name, output_dir, max_steps, configs_dir, data_args, eval_examples)
            for name in model_names]
    with open(os.path.join(output_dir, "comparison.md"), "w", encoding="utf-8") as f:
        f.write(markdown_table(rows))
    with open(os.path.join(output_dir, RESULTS_FILE), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    for key, ylabel, marker in (("loss", "training loss", None),
                                ("accuracy", "test precision @ 1", "o")):
        plots.plot_lines({r["model"]: r[key] for r in rows}, ylabel,
                         os.path.join(output_dir, f"{key}.png"), marker=marker)
    print(markdown_table(rows), flush=True)
    return rows
