"""Exact top-k evaluation of a train_dir's checkpoints (`convnet.eval`).

Every example of the split is counted once (convnet.evaluation.counting), per class and
in a confusion matrix, with the EMA or raw weights and optional test-time
augmentation; results go to the console and to TensorBoard in --eval_dir, the
confusion matrix as a heat map and confusion_matrix_step_<N>.csv there
(convnet.evaluation.confusion).

In loop mode a checkpoint is evaluated once, when it becomes the latest; one
deleted (by the trainer's `max_to_keep`) before its turn is skipped with a
line, and the loop ends after the checkpoint at the run's `max_steps`.
"""

import dataclasses
import os
import time

import tensorflow as tf

from convnet import models
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import restore, run_record, state
from convnet.data import pipeline
from convnet.data.config import DataConfig
from convnet.data.sources.base import Source
from convnet.data.sources.spec import make_source
from convnet.evaluation import confusion
from convnet.evaluation import tta as tta_lib
from convnet.evaluation.counting import EvalResult, count_correct
from convnet.runtime import console, distribute, options, paths, precision
from convnet.runtime.compute import ComputeConfig
from convnet.runtime.errors import CheckpointError, DamagedCheckpointError
from convnet.runtime.options import check, option

# Seconds between looks for a new checkpoint in loop mode, once eval_interval_secs have passed.
POLL_SECS = 1.0


@dataclasses.dataclass
class EvalConfig(options.FlatSettings):
    """Everything an evaluation needs: the fields below, and the data and compute configs
    (`data.dataset` and `data.label_mode`, when None, are the run's)."""
    checkpoint_dir: str = option("/tmp/cifar10_train",
                                 "Training directory whose latest checkpoint is evaluated.")
    eval_dir: str = option("/tmp/cifar10_eval", "Directory for TensorBoard events.")
    eval_data: str = option("test", "Split to evaluate.", choices=("test", "train"))
    top_k: int = option(1, "Count a prediction correct when the true class is among the k "
                        "highest logits.", lower_bound=1)
    num_examples: int | None = option(
        None, "Evaluate only the first N examples of the split (default: all of them, each "
        "counted once).", lower_bound=1)
    use_ema: bool = option(True, "Evaluate the moving averages of the weights (--nouse_ema or "
                           "--use_ema=false for the raw weights; a run trained with "
                           "--moving_average_decay=0 is evaluated with its raw weights).")
    model: str | None = option(
        None, models.model_help("Model of the checkpoint (default: read from the checkpoint's "
                                "run.json)"))
    run_once: bool = option(False, "Evaluate the latest checkpoint once and exit.")
    eval_interval_secs: int = option(300, "Seconds between looks for a new checkpoint.",
                                     lower_bound=0)
    restore_fallback: bool = restore.fallback_option()
    tta: str = tta_lib.tta_mode_option()
    # The layers' configs: their flags are flat (--batch_size is data.batch_size).
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)

    def validate(self) -> None:
        """Choices and bounds; the data settings make a SourceSpec in Evaluator, once the
        run's dataset is known."""
        check(self)
        check(self.data)
        self.compute.validate()
        if self.model:
            models.check_name(self.model)


class Evaluator:
    """Restores checkpoints of a train_dir into a model and evaluates them."""

    def __init__(self, config: EvalConfig, source: Source | None = None):
        """`source` (your own data, any `convnet.data.Source`) replaces the config's data
        settings."""
        config.validate()
        self.config = config
        # Without --model, run.json says what the checkpoints are of (the tutorial's
        # model is not assumed: it would fail later on a tensor shape).
        directory = config.checkpoint_dir
        record = run_record.read(directory) if config.model else run_record.require(directory)
        self.source = source or make_source(config.data.source_spec(
            dataset=record.dataset if record else None,
            label_mode=record.resolved_label_mode() if record else None,
            image_size=record.settings.get("image_size") if record else None))
        self.info = self.source.info
        asked = run_record.RunRecord(model=config.model or record.model, dataset=self.info.name,
                                     num_classes=self.info.num_classes)
        run_record.check_same_run(directory, asked, fields=("model", "dataset", "num_classes"))
        if config.top_k > self.info.num_classes:
            raise ValueError(f"--top_k={config.top_k} exceeds the {self.info.num_classes} classes")
        self.strategy = distribute.make_strategy(config.compute.strategy, config.compute.tpu)
        self.compute_dtype = precision.compute_dtype(config.compute.precision)
        # A run without a moving average (--moving_average_decay=0) is evaluated as it is.
        self.use_ema = config.use_ema and (record is None or record.kept_weight_average())
        with self.strategy.scope():
            self.model = models.build_model(asked.model, self.info.num_classes)
            self.preprocessing = (record or asked).preprocessing_for(self.model.image_size,
                                                                     self.info.image_shape[0])
            size = self.preprocessing.image_size
            self.state = state.build(self.model, [size, size, self.info.image_shape[-1]])
        self.dataset = pipeline.eval_dataset(
            self.source, config.eval_data, config.data.batch_size,
            settings=pipeline.InputSettings(self.preprocessing, config.data.num_parallel_calls),
            num_examples=config.num_examples)
        split_size = self.source.num_examples(config.eval_data)
        self.num_examples = (min(config.num_examples, split_size or config.num_examples)
                             if config.num_examples else split_size)
        self.writer = (tf.summary.create_file_writer(config.eval_dir)
                       if distribute.is_chief(self.strategy) else tf.summary.create_noop_writer())

    def evaluate_checkpoint(self, path: str | None = None) -> EvalResult:
        """Evaluates checkpoint `path`; None: the newest that reads (damaged ones are skipped
        and moved aside, unless `restore_fallback` is off)."""
        directory = self.config.checkpoint_dir
        if path is None:
            checkpoint_files.require_latest_checkpoint(directory)
            restore.restore_latest(self.state.checkpoint, directory, partial=True,
                                         fallback=self.config.restore_fallback)
        else:
            restore.restore(self.state.checkpoint, path, partial=True)
        if self.use_ema:
            self.state.ema.copy_to(self.model.trainable_variables)
        correct, class_correct, class_count, confusion = count_correct(
            self.model, self.dataset, self.info.num_classes, top_k=self.config.top_k,
            strategy=self.strategy, xla=self.config.compute.xla,
            compute_dtype=self.compute_dtype, num_examples=self.num_examples, tta=self.config.tta)
        result = EvalResult(int(self.state.step.numpy()), self.config.top_k,
                            int(class_count.sum()), correct, class_correct, class_count,
                            confusion)
        self._report(result)
        return result

    def _report(self, result: EvalResult) -> None:
        k = result.top_k
        weights = "EMA" if self.use_ema else "raw"
        if self.config.tta != "none":
            weights += f", {self.config.tta} TTA"
        console.log(f"precision @ {k} = {result.precision:.3f} ({result.num_correct} of "
             f"{result.num_examples} {self.config.eval_data} examples; checkpoint step "
             f"{result.step}, {weights} weights)")
        lines = [f"per-class precision @ {k}:"]
        for label in range(self.info.num_classes):
            count = result.class_count[label]
            value = result.class_correct[label] / count if count else float("nan")
            lines.append(f"  {self.info.class_name(label):<12s} {value:.3f} ({count})")
        print("\n".join(lines), flush=True)
        with self.writer.as_default(step=result.step):
            tf.summary.scalar(f"precision_at_{k}", result.precision)
            for label in range(self.info.num_classes):
                if result.class_count[label]:
                    tf.summary.scalar(f"class_precision_at_{k}/{self.info.class_name(label)}",
                                      result.class_correct[label] / result.class_count[label])
        confusion.write(self.writer, self.config.eval_dir, result.step, confusion=result.confusion,
                        class_names=[self.info.class_name(c) for c in range(self.info.num_classes)],
                        is_chief=distribute.is_chief(self.strategy))
        self.writer.flush()

    def run(self):
        """Evaluates the latest checkpoint once (`run_once`) or each new checkpoint once, in
        step order, as they appear (looking every `eval_interval_secs` at most).

        A checkpoint deleted (by the trainer's `max_to_keep`) before its turn is
        skipped with a line, a damaged one too (moved aside; with
        `restore_fallback` off, an error). The loop stops after evaluating the
        checkpoint at the run's `max_steps`.
        """
        config, directory = self.config, self.config.checkpoint_dir
        if config.run_once:
            return self.evaluate_checkpoint()
        if not config.restore_fallback:
            # A broken state file fails now.
            checkpoint_files.latest_checkpoint(directory, strict=True)
        result, last_step, next_look = None, -1, 0.0
        console.log(f"waiting for checkpoints in {directory}")
        while True:
            time.sleep(max(0.0, next_look - time.monotonic()))
            new = [path for path in checkpoint_files.checkpoint_paths(directory)
                   if checkpoint_files.step_of(path) > last_step]
            if not new:
                next_look = time.monotonic() + POLL_SECS
                continue
            next_look = time.monotonic() + config.eval_interval_secs
            for path in new:
                last_step = checkpoint_files.step_of(path)
                try:
                    result = self.evaluate_checkpoint(path)
                except CheckpointError as e:
                    if not os.path.isfile(path + ".index"):  # the trainer's max_to_keep
                        console.log(f"{path} was deleted (the trainer keeps only the newest) "
                                    f"before it could be evaluated: going on with the next")
                        continue
                    if not isinstance(e, DamagedCheckpointError) or not config.restore_fallback:
                        raise
                    restore.skip_damaged(path, e.damage)
                    continue
                record = run_record.read(directory)
                if record and record.max_steps and result.step >= record.max_steps:
                    console.log(f"checkpoint step {result.step} reached the run's max_steps: done")
                    return result


def evaluate(config: EvalConfig):
    """Checks --eval_dir is writable; in loop mode without --model, waits for the trainer's
    run.json (polling every eval_interval_secs); then evaluates (`Evaluator.run`)."""
    paths.ensure_writable_dir(config.eval_dir, "--eval_dir")
    if not config.run_once and not config.model:
        run_record.wait_for(config.checkpoint_dir, config.eval_interval_secs)
    return Evaluator(config).run()
