"""Exact top-k evaluation of a checkpoint: every example of the split counted once.

An example is correct at k when fewer than k classes have a logit strictly
greater than the true class's (ties count in its favour, as
`tf.math.in_top_k` does). Counts are accumulated as integers over the whole
split, with the last short batch included, so 10,000 test images give a
denominator of 10,000. Each example carries a weight (1, or 0 for the padding
that gives `--xla` a fixed batch shape), and counts are summed across the
replicas of `--strategy`.

In loop mode a checkpoint is evaluated once, when it becomes the latest; one
deleted (by the trainer's `max_to_keep`) before its turn is skipped with a
line, and the loop ends after the checkpoint at the run's `max_steps`.
"""

import dataclasses
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from convnet import checkpointing, console, distribute, models, optim, precision
from convnet import paths
from convnet import tta as tta_lib
from convnet.data import pipeline
from convnet.errors import CheckpointError, DamagedCheckpointError


# Seconds between looks for a new checkpoint in loop mode, once eval_interval_secs have passed.
POLL_SECS = 1.0


@dataclasses.dataclass
class EvalConfig:
    """Everything an evaluation needs; the flags of `convnet.eval` map onto it."""
    checkpoint_dir: str = "/tmp/cifar10_train"
    eval_dir: str = "/tmp/cifar10_eval"
    eval_data: str = "test"
    top_k: int = 1
    num_examples: Optional[int] = None  # None: the whole split; else its first N examples
    use_ema: bool = True
    batch_size: int = 128
    model: Optional[str] = None  # None: from the checkpoint's run.json
    dataset: Optional[str] = None  # None: from run.json, else cifar10
    label_mode: Optional[str] = None  # None: from run.json, else fine
    data_source: str = "files"
    data_dir: str = "/tmp/cifar10_data"
    tfds_data_dir: Optional[str] = None
    download: bool = True
    num_parallel_calls: int = 16
    run_once: bool = False
    eval_interval_secs: int = 300
    strategy: str = "default"
    tpu: Optional[str] = None
    precision: str = "float32"
    xla: bool = False
    restore_fallback: bool = True  # skip damaged checkpoints, restoring the newest that reads
    tta: str = "none"  # test-time augmentation (convnet.tta)

    def validate(self) -> None:
        tta_lib.check_mode(self.tta)
        if self.top_k <= 0:
            raise ValueError(f"--top_k must be positive, got {self.top_k}")
        if self.batch_size <= 0:
            raise ValueError(f"--batch_size must be positive, got {self.batch_size}")
        if self.eval_data not in ("test", "train"):
            raise ValueError(f"--eval_data must be 'test' or 'train', got {self.eval_data!r}")
        if self.num_examples is not None and self.num_examples <= 0:
            raise ValueError(f"--num_examples must be positive, got {self.num_examples}")
        if self.eval_interval_secs < 0:
            raise ValueError(f"--eval_interval_secs must be >= 0, got {self.eval_interval_secs}")
        if self.strategy not in distribute.STRATEGIES:
            raise ValueError(f"unknown --strategy={self.strategy!r}: choose from "
                             f"{', '.join(distribute.STRATEGIES)}")
        precision.compute_dtype(self.precision)


@dataclasses.dataclass
class EvalResult:
    """Counts over one split. `confusion[true, predicted]` uses the top-1 prediction."""
    step: int
    top_k: int
    num_examples: int
    num_correct: int
    class_correct: np.ndarray
    class_count: np.ndarray
    confusion: np.ndarray

    @property
    def precision(self) -> float:
        return self.num_correct / self.num_examples if self.num_examples else 0.0


def correct_at_k(logits: tf.Tensor, labels: tf.Tensor, k: int) -> tf.Tensor:
    """bool [batch]: the true class is among the top k (ties in its favour)."""
    logits = tf.cast(logits, tf.float32)
    true_logit = tf.gather(logits, labels, axis=1, batch_dims=1)
    higher = tf.reduce_sum(tf.cast(logits > true_logit[:, None], tf.int32), axis=1)
    return tf.logical_and(higher < k, tf.math.is_finite(true_logit))


def with_weights(dataset: tf.data.Dataset, batch_size: Optional[int] = None) -> tf.data.Dataset:
    """(images, labels) batches -> (images, labels, int64 weights of 1).

    With `batch_size`, a short batch is padded to it with weight-0 examples,
    so every batch has the same shape (what XLA compiles once).
    """

    def add(images, labels):
        weights = tf.ones_like(labels, tf.int64)
        if batch_size is None:
            return images, labels, weights
        missing = batch_size - tf.shape(labels)[0]
        pad = lambda x: tf.pad(x, [[0, missing]] + [[0, 0]] * (len(x.shape) - 1))
        images, labels, weights = pad(images), pad(labels), pad(weights)
        return (tf.ensure_shape(images, [batch_size] + images.shape[1:]),
                tf.ensure_shape(labels, [batch_size]), tf.ensure_shape(weights, [batch_size]))

    return dataset.map(add)


def count_correct(model, dataset: tf.data.Dataset, num_classes: int, top_k: int,
                  strategy: Optional[tf.distribute.Strategy] = None, xla: bool = False,
                  compute_dtype: tf.DType = tf.float32, num_examples: Optional[int] = None,
                  tta: str = "none"):
    """Runs `model` over `dataset` once; returns (correct, class_correct, class_count, confusion).

    `dataset` yields (images, labels) batches; with `xla` they are padded to the
    first batch's size and masked, and each replica's counts are compiled with
    XLA. One compiled call per batch; the counts are summed as int64 in Python.
    `num_examples` (if known) sizes the progress line. `tta` (tta.TTA_MODES)
    averages the logits of mirrored and translated views (`tta.tta_logits`).
    """
    tta_lib.check_mode(tta)
    strategy = strategy or tf.distribute.get_strategy()
    batch_size = int(next(iter(dataset))[1].shape[0]) if xla else None
    batches = strategy.experimental_distribute_dataset(with_weights(dataset, batch_size))

    @tf.function(jit_compile=xla)
    def replica_counts(images, labels, weights):
        logits = tta_lib.tta_logits(lambda x: model(x, training=False),
                                    tf.cast(images, compute_dtype), tta)
        hits = tf.cast(correct_at_k(logits, labels, top_k), tf.int64) * weights
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        return (tf.math.unsorted_segment_sum(hits, labels, num_classes),
                tf.math.unsorted_segment_sum(weights, labels, num_classes),
                tf.math.confusion_matrix(labels, predicted, num_classes, weights=weights,
                                         dtype=tf.int64))

    @tf.function
    def batch_counts(batch):
        counts = strategy.run(replica_counts, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, c, axis=None) for c in counts]

    class_correct = np.zeros([num_classes], np.int64)
    class_count = np.zeros([num_classes], np.int64)
    confusion = np.zeros([num_classes, num_classes], np.int64)
    with console.Progress("evaluating", num_examples, unit="examples") as progress:
        for batch in batches:
            correct, count, matrix = batch_counts(batch)
            class_correct += correct.numpy()
            class_count += count.numpy()
            confusion += matrix.numpy()
            progress.update(int(count.numpy().sum()))
    return int(class_correct.sum()), class_correct, class_count, confusion


class Evaluator:
    """Restores checkpoints of a train_dir into a model and evaluates them."""

    def __init__(self, config: EvalConfig):
        config.validate()
        self.config = config
        # Without --model, run.json says what the checkpoints are of (the tutorial's
        # model is not assumed: it would fail later on a tensor shape).
        run_config = (checkpointing.read_run_config(config.checkpoint_dir) if config.model
                      else checkpointing.require_run_config(config.checkpoint_dir)) or {}
        model_name = config.model or run_config.get("model", "cifar10")
        dataset = config.dataset or run_config.get("dataset", "cifar10")
        label_mode = config.label_mode or run_config.get("label_mode", "fine")
        self.source = pipeline.make_source(config.data_source, config.data_dir,
                                           config.tfds_data_dir, config.download, dataset,
                                           label_mode=label_mode)
        self.info = self.source.info
        checkpointing.check_same_run(config.checkpoint_dir,
                                     {"model": model_name, "dataset": self.info.name,
                                      "num_classes": self.info.num_classes})
        if config.top_k > self.info.num_classes:
            raise ValueError(f"--top_k={config.top_k} exceeds the {self.info.num_classes} classes")
        self.strategy = distribute.make_strategy(config.strategy, config.tpu)
        self.compute_dtype = precision.compute_dtype(config.precision)
        with self.strategy.scope():
            self.model = models.build_model(model_name, self.info.num_classes)
            self.preprocessing = checkpointing.run_preprocessing(
                run_config, self.model.image_size, self.info.image_shape[0])
            size = self.preprocessing.image_size
            self.model(tf.zeros([1, size, size, self.info.image_shape[-1]]))
            self.ema = optim.WeightEMA()
            self.ema.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.checkpoint = tf.train.Checkpoint(step=self.step, model=self.model, ema=self.ema)
        self.dataset = pipeline.eval_dataset(self.source, config.eval_data, config.batch_size,
                                             self.preprocessing, config.num_parallel_calls,
                                             config.num_examples)
        split_size = self.source.num_examples(config.eval_data)
        self.num_examples = (min(config.num_examples, split_size or config.num_examples)
                             if config.num_examples else split_size)
        self.writer = (tf.summary.create_file_writer(config.eval_dir)
                       if distribute.is_chief(self.strategy) else tf.summary.create_noop_writer())

    def evaluate_checkpoint(self, path: Optional[str] = None) -> EvalResult:
        """Evaluates checkpoint `path`; None: the newest that reads (damaged ones are skipped
        and moved aside, unless `restore_fallback` is off)."""
        directory = self.config.checkpoint_dir
        if path is None:
            checkpointing.require_latest_checkpoint(directory)
            checkpointing.restore_latest(self.checkpoint, directory, partial=True,
                                         fallback=self.config.restore_fallback)
        else:
            checkpointing.restore(self.checkpoint, path, partial=True)
        if self.config.use_ema:
            self.ema.copy_to(self.model.trainable_variables)
        correct, class_correct, class_count, confusion = count_correct(
            self.model, self.dataset, self.info.num_classes, self.config.top_k, self.strategy,
            self.config.xla, self.compute_dtype, self.num_examples, tta=self.config.tta)
        result = EvalResult(int(self.step.numpy()), self.config.top_k, int(class_count.sum()), correct,
                            class_correct, class_count, confusion)
        self._report(result)
        return result

    def _report(self, result: EvalResult) -> None:
        k = result.top_k
        weights = "EMA" if self.config.use_ema else "raw"
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
        self.writer.flush()

    def _evaluate_settled(self, path: str) -> Optional[EvalResult]:
        """Evaluates `path`, which a trainer may be writing or deleting at this moment.

        A restore that fails is tried once more after POLL_SECS, when a save in
        progress has finished; returns None when the checkpoint's files are gone
        (deleted by the trainer's `max_to_keep`). A second failure is raised.
        """
        try:
            return self.evaluate_checkpoint(path)
        except CheckpointError:
            time.sleep(POLL_SECS)
            if not os.path.isfile(path + ".index"):
                return None
        try:
            return self.evaluate_checkpoint(path)
        except CheckpointError:
            if not os.path.isfile(path + ".index"):
                return None
            raise

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
            checkpointing.latest_checkpoint(directory, strict=True)  # a broken state file fails now
        result, last_step, next_look = None, -1, 0.0
        console.log(f"waiting for checkpoints in {directory}")
        while True:
            time.sleep(max(0.0, next_look - time.monotonic()))
            new = [path for path in checkpointing.checkpoint_paths(directory)
                   if checkpointing.step_of(path) > last_step]
            if not new:
                next_look = time.monotonic() + POLL_SECS
                continue
            next_look = time.monotonic() + config.eval_interval_secs
            for path in new:
                last_step = checkpointing.step_of(path)
                try:
                    result = self._evaluate_settled(path)
                except DamagedCheckpointError as e:
                    if not config.restore_fallback:
                        raise
                    checkpointing.skip_damaged(path, e.damage)
                    continue
                if result is None:
                    console.log(f"{path} was deleted (the trainer keeps only the newest) "
                                f"before it could be evaluated: going on with the next")
                    continue
                run_config = checkpointing.read_run_config(directory) or {}
                if result.step >= run_config.get("max_steps", float("inf")):
                    console.log(f"checkpoint step {result.step} reached the run's max_steps: done")
                    return result


def evaluate(config: EvalConfig):
    """Checks --eval_dir is writable; in loop mode without --model, waits for the trainer's
    run.json (polling every eval_interval_secs); then evaluates (`Evaluator.run`)."""
    paths.ensure_writable_dir(config.eval_dir, "--eval_dir")
    if not config.run_once and not config.model:
        wait_for_run_config(config.checkpoint_dir, config.eval_interval_secs)
    return Evaluator(config).run()


def wait_for_run_config(checkpoint_dir: str, interval_secs: float) -> None:
    """Returns once `checkpoint_dir` holds run.json, saying once that it waits."""
    if checkpointing.read_run_config(checkpoint_dir):
        return
    console.log(f"waiting for {os.path.join(checkpoint_dir, checkpointing.RUN_FILE)} "
                f"(written by convnet.train when it starts)")
    while not checkpointing.read_run_config(checkpoint_dir):
        time.sleep(interval_secs or 1)
