"""The Trainer's own periodic jobs, as callbacks (convnet.training.callbacks), in loop order.

`LossCheck` (every round: a non-finite or diverged loss), `StepStructure` (the steps where a
variable group stops training or a progressive-resizing stage ends: the step's trace changes
there; the image-size line), `LogLine` (--log_frequency: the console line and the training
scalars), `HistogramSummaries` (--histogram_frequency), `FinishLookahead` (the last step: the
model takes lookahead's average), `SaveCheckpoint` (--save_checkpoint_steps and the last step:
the checkpoint and the image summary), `EvaluateEverySteps` (--eval_every_steps) and
`EvaluateAfterEpoch` (--eval_every_epoch). `Trainer._jobs` lists them; user callbacks follow.
"""

import tensorflow as tf

from convnet.runtime import console, timing
from convnet.training import step as train_step
from convnet.training import summaries
from convnet.training.callbacks import Callback, Progress, next_multiple
from convnet.training.in_run_evaluation import TrainingEvaluation, next_epoch_end
from convnet.training.loss_watch import LossWatch


class LossCheck(Callback):
    """Every round: `LossWatch.check` (raises at a non-finite or diverged loss under 'stop')."""

    def __init__(self, watch: LossWatch):
        self.watch = watch

    def on_round(self, progress: Progress) -> None:
        result = progress.result
        self.watch.check(progress.step, progress.loss, bool(result.finite),
                         skipped=int(result.skipped),
                         applied=progress.round_steps, trailing=int(result.trailing_skipped))


class StepStructure(Callback):
    """The steps where the compiled step changes: a variable group's last trained step
    (`train_until`: later steps ask no gradient of it) and a --progressive_resizing stage's end.
    Logs the size the next steps train on at the start and where it changes."""

    def __init__(self, train_until_steps, image_sizes, size_of, *, full_size: int):
        self.ends = sorted({until for until in train_until_steps if until is not None}
                           | {end for _, end in image_sizes})
        self.image_sizes, self.size_of, self.full_size = image_sizes, size_of, full_size

    def next_step(self, step: int, max_steps: int) -> int | None:
        return next((end for end in self.ends if end > step), None)

    def on_train_begin(self, progress: Progress) -> None:
        self._log_size(progress.step)

    def on_step(self, progress: Progress) -> None:
        if self.image_sizes and self.size_of(progress.step) != self.size_of(progress.step - 1):
            self._log_size(progress.step)

    def _log_size(self, step: int) -> None:
        if not self.image_sizes:
            return
        size = self.size_of(step)
        until = next((end for _, end in self.image_sizes if end > step), None)
        full = self.full_size
        console.log(f"training on {size}x{size} images until step {until} "
                    f"(--progressive_resizing)" if size is not None else
                    f"training on full-size {full}x{full} images from step {step}")


class LogLine(Callback):
    """Every `every` steps and at the last: `step N, loss = ... (examples/sec; sec/batch)` and
    the training scalars (loss, learning rate, examples/sec, the accumulated top-1 and the
    loss terms: summaries.TrainingScalars; the float16 loss scale)."""

    def __init__(self, every: int, writer, batch_size: int, *, loss_scale=None):
        self.every, self.writer, self.batch_size = every, writer, batch_size
        self.loss_scale = loss_scale
        self.scalars = summaries.TrainingScalars()
        self._steps, self._seconds = 0, 0.0

    def on_round(self, progress: Progress) -> None:
        self.scalars.add(progress.result.metrics)
        self._steps, self._seconds = progress.round_steps, progress.seconds

    def on_step(self, progress: Progress) -> None:
        done, elapsed, loss = self._steps, self._seconds, progress.loss
        examples_per_sec = done * self.batch_size / elapsed
        console.log(f"step {progress.step}, loss = {loss:.2f} ({examples_per_sec:.1f} "
                    f"examples/sec; {elapsed / done:.3f} sec/batch)")
        with self.writer.as_default(step=progress.step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("learning_rate", progress.learning_rate)
            tf.summary.scalar("examples_per_sec", examples_per_sec)
            self.scalars.write(loss)
            if self.loss_scale is not None:
                tf.summary.scalar("loss_scale", float(self.loss_scale.value.numpy()))


class HistogramSummaries(Callback):
    """Every `every` steps (not at the last unless a multiple): the weight, gradient and
    activation histograms of the last batch (summaries.Histograms)."""

    def __init__(self, every: int, writer, step: train_step.TrainStep):
        self.every, self.writer = every, writer
        self.histograms = summaries.Histograms(step)

    def next_step(self, step: int, max_steps: int) -> int:
        return next_multiple(step, self.every)

    def on_step(self, progress: Progress) -> None:
        metrics = progress.result.metrics
        with self.writer.as_default(step=progress.step):
            self.histograms.write(metrics.images, metrics.labels)


class FinishLookahead(Callback):
    """At the last step: the model takes lookahead's average (convnet.optim.lookahead)."""

    def __init__(self, lookahead, variables):
        self.lookahead, self.variables = lookahead, variables

    def next_step(self, step: int, max_steps: int) -> int:
        return max_steps

    def on_step(self, progress: Progress) -> None:
        if progress.step == progress.max_steps:
            self.lookahead.finish(self.variables)


class SaveCheckpoint(Callback):
    """Every `every` steps and at the last: a checkpoint (`save()`, which every worker calls)
    and, on the chief's writer, a few training images."""

    def __init__(self, every: int, save, writer, *, start_step: int):
        self.every, self.save, self.writer = every, save, writer
        self.saved_step = start_step  # the step of the newest checkpoint this run has

    def on_step(self, progress: Progress) -> None:
        path, self.saved_step = self.save(), progress.step
        with self.writer.as_default(step=progress.step):
            tf.summary.image("images", displayable(progress.result.images),
                             max_outputs=train_step.SUMMARY_IMAGES)
        self.writer.flush()
        console.log(f"saved checkpoint {path}")


class EvaluateEverySteps(Callback):
    """Every `every` steps (not at the last unless a multiple): the test (or validation)
    precision, written to train_dir/eval (convnet.training.in_run_evaluation)."""

    def __init__(self, every: int, evaluation: TrainingEvaluation, clock: timing.Phases):
        self.every, self.evaluation, self.clock = every, evaluation, clock

    def next_step(self, step: int, max_steps: int) -> int:
        return next_multiple(step, self.every)

    def on_step(self, progress: Progress) -> None:
        self.evaluation.every_steps(progress.step, self.clock)


class EvaluateAfterEpoch(Callback):
    """At each epoch's last step: the test precision and the seconds since process start."""

    def __init__(self, evaluation: TrainingEvaluation, clock: timing.Phases,
                 steps_per_epoch: float):
        self.evaluation, self.clock, self.steps_per_epoch = evaluation, clock, steps_per_epoch

    def next_step(self, step: int, max_steps: int) -> int:
        return next_epoch_end(step, self.steps_per_epoch)

    def on_step(self, progress: Progress) -> None:
        self.evaluation.after_epoch(progress.step, progress.steps_per_epoch, self.clock)


def displayable(images: tf.Tensor) -> tf.Tensor:
    """Rescales standardized images to [0, 1] per image for TensorBoard."""
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)
