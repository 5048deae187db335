"""Evaluation inside a training run: after each epoch and every --eval_every_steps (not
timed), and at the end (timed).

All evaluate the model's own weights (not the EMA) on the test split, the
end one with the recipe's test-time augmentation, and write their precision to
`train_dir/eval`, the directory `convnet.eval` would use as --eval_dir, so
TensorBoard and convnet.report show them beside the training curves. The
evaluations every N steps evaluate `every_steps_split` (the test split, or
the examples held out by --validation_examples, convnet.data.sources.held_out) and write
what `convnet.eval` writes: precision_at_1, class_precision_at_1/<class>, the
confusion matrix image and CSV (convnet.evaluation.confusion).
"""

import math
import os

import tensorflow as tf

from convnet.data import pipeline
from convnet.evaluation import confusion, counting
from convnet.runtime import console, timing

EVAL_BATCH = 500  # test examples a batch


def next_epoch_end(step: int, steps_per_epoch: float) -> int:
    """The first step after `step` that ends an epoch: ceil(k x steps_per_epoch)."""
    epoch = int(step // steps_per_epoch) + 1
    while math.ceil(epoch * steps_per_epoch) <= step:
        epoch += 1
    return math.ceil(epoch * steps_per_epoch)


class TrainingEvaluation:
    """Evaluates `model` on `source`'s test split with the run's `input_settings`."""

    def __init__(self, source, input_settings: pipeline.InputSettings, model,
                 *, strategy: tf.distribute.Strategy, compute_dtype: tf.DType, train_dir: str,
                 is_chief: bool, every_steps_split: str = "test"):
        self.every_steps_split = every_steps_split
        self.source, self.input_settings, self.model = source, input_settings, model
        self.strategy, self.compute_dtype = strategy, compute_dtype
        self.eval_dir, self.is_chief = os.path.join(train_dir, "eval"), is_chief
        self._writer = None

    def evaluate(self, tta_mode: str = "none") -> tuple[float, int, int]:
        """(precision @ 1, correct, examples) on the test split, with test-time
        augmentation `tta_mode` (convnet.evaluation.tta)."""
        correct, _, counts, _ = self.counts("test", tta_mode)
        count = int(counts.sum())
        return correct / max(count, 1), correct, count

    def counts(self, split: str, tta_mode: str = "none"):
        """counting.count_correct of `split` at k = 1: (correct, class_correct,
        class_count, confusion)."""
        dataset = pipeline.eval_dataset(self.source, split, EVAL_BATCH,
                                        settings=self.input_settings)
        return counting.count_correct(
            self.model, dataset, self.source.info.num_classes, top_k=1, strategy=self.strategy,
            compute_dtype=self.compute_dtype, num_examples=self.source.num_examples(split),
            tta=tta_mode)

    def every_steps(self, step: int, clock: timing.Phases) -> float:
        """Evaluates `every_steps_split` outside the timed part; logs and writes what
        convnet.eval writes. Returns the precision @ 1."""
        running = clock.running
        clock.start(None)
        split, info = self.every_steps_split, self.source.info
        correct, class_correct, class_count, matrix = self.counts(split)
        count = int(class_count.sum())
        precision = correct / max(count, 1)
        console.log(f"step {step}: precision @ 1 = {precision:.4f} ({correct} of {count} "
                    f"{split} examples)")
        self._write(step, "precision_at_1", precision)
        with self._writer.as_default(step=step):
            for label in range(info.num_classes):
                if class_count[label]:
                    tf.summary.scalar(f"class_precision_at_1/{info.class_name(label)}",
                                      class_correct[label] / class_count[label])
        confusion.write(self._writer, self.eval_dir, step, confusion=matrix,
                        class_names=[info.class_name(c) for c in range(info.num_classes)],
                        is_chief=self.is_chief)
        self._writer.flush()
        clock.start(running)
        return precision

    def after_epoch(self, step: int, steps_per_epoch: float, clock: timing.Phases) -> None:
        """Evaluates outside the timed part; logs and writes `precision_at_1`, and
        `elapsed_seconds`: the seconds counted so far (time to accuracy's, from process start)."""
        running = clock.running
        clock.start(None)
        precision, correct, count = self.evaluate()
        console.log(f"epoch {round(step / steps_per_epoch)} (step {step}): precision @ 1 = "
                    f"{precision:.4f} ({correct} of {count} test examples)")
        self._write(step, "precision_at_1", precision)
        self._write(step, "elapsed_seconds", clock.total())
        clock.start(running)

    def at_end(self, step: int, tta_mode: str, clock: timing.Phases) -> float:
        """Evaluates as the 'evaluation' phase; logs the precision and the time to accuracy."""
        clock.start("evaluation")
        precision, correct, count = self.evaluate(tta_mode)
        clock.start(None)
        console.log(f"precision @ 1 = {precision:.3f} ({correct} of {count} test examples; "
                    f"step {step}, raw weights, {'no' if tta_mode == 'none' else tta_mode} TTA)")
        console.log(f"time to accuracy {clock.summary()} (from process start; "
                    f"evaluations after each epoch not counted)")
        self._write(step, f"{tta_mode}_tta_precision_at_1", precision)
        return precision

    def _write(self, step: int, tag: str, value: float) -> None:
        if self.is_chief:
            tf.io.gfile.makedirs(self.eval_dir)
        if self._writer is None:
            self._writer = (tf.summary.create_file_writer(self.eval_dir) if self.is_chief
                            else tf.summary.create_noop_writer())
        with self._writer.as_default(step=step):
            tf.summary.scalar(tag, value)
        self._writer.flush()
