"""The Trainer: a run's setup (convnet.training.setup: data, state, step) with its
checkpoints, run record and evaluations, and the loop over the compiled step.

The same code runs under every `--strategy` (convnet.runtime.distribute). Each call of
the step (convnet.training.step) runs the updates up to the next log, checkpoint,
epoch end, --histogram_frequency or --eval_every_steps step (one step a call
inside --profile_steps), so Python is not in the per-step loop. TensorBoard gets the training
scalars, histograms and hparams of convnet.training.summaries, evaluations in
train_dir/eval (convnet.training.in_run_evaluation) and profiler traces
(convnet.training.profiling). A non-finite loss is never applied: with `--nan_policy=stop`
training stops with
`NonFiniteLossError` and the last checkpoint is left as it was; with
`skip_batch` the batch is skipped. A finite loss above `--max_loss` warns once
(`stop`: `DivergedLossError` before the diverged weights are saved).

Checkpoints (`tf.train.CheckpointManager`) hold the state; a rerun with the
same train_dir resumes from the newest one that reads and continues the same
data stream (convnet.data.pipeline.train_dataset); run.json (convnet.checkpoints.run_record)
says what they are of, and a resume of another model or batch size is refused.
SIGTERM and SIGINT save a checkpoint at the current step, then stop with
`Interrupted`. Nothing here deletes train_dir.
"""

import contextlib
import os
import time

import tensorflow as tf

from convnet import models
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record, writer_lock
from convnet.checkpoints.manager import RunCheckpoints
from convnet.data import preprocess
from convnet.data.sources import held_out
from convnet.data.sources.base import Source
from convnet.runtime import console, distribute, timing
from convnet.runtime.errors import Interrupted
from convnet.training import interrupts, preemption, summaries, time_budget
from convnet.training import step as train_step
from convnet.training.config import TrainConfig
from convnet.training.in_run_evaluation import TrainingEvaluation, next_epoch_end
from convnet.training.loss_watch import LossWatch
from convnet.training.profiling import StepProfiler
from convnet.training.setup import TrainingSetup


def _probe(config: TrainConfig, strategy: tf.distribute.Strategy | None,
           previous: preprocess.Preprocessing | None, source: Source | None,
           clock: timing.Phases, seconds: float) -> tuple[float, time_budget.Measurement, int]:
    """A `TrainingSetup` of `config` built and its steps timed (`time_budget.measure`), then
    dropped: (seconds to build it and its input, the measurement, its steps unscaled)."""
    began = clock.now()
    probe = TrainingSetup(config, strategy, previous, source)
    try:
        iterator = probe.train_iterator(0)
        built = clock.now() - began
        measured = time_budget.measure(
            lambda steps: float(probe.run_steps(iterator, steps)[0]), clock.now, seconds)
        return built, measured, probe.max_steps
    finally:
        probe.close()


class Trainer(TrainingSetup):
    """A `TrainingSetup` with the run's checkpoints, record and evaluations, and the loop.

    `strategy` overrides `config.strategy` with a ready `tf.distribute.Strategy`. The
    Trainer (the chief's) holds train_dir's writer lock from its making, before any data is
    read, until `train()` ends or `close()` (also `with Trainer(...) as trainer:`).
    """

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None,
                 source: Source | None = None):
        # First of all, before reading data: one writer per train_dir (checkpoints.writer_lock).
        config.validate()
        chief = (distribute.is_chief(strategy) if strategy is not None
                 else distribute.is_chief_task(config.strategy))
        self._lock = writer_lock.hold(config.train_dir) if chief else None
        try:
            self._build(config, strategy, chief, source)
        except BaseException:
            self.close()
            raise

    def _build(self, config: TrainConfig, strategy: tf.distribute.Strategy | None,
               chief: bool, source: Source | None) -> None:
        previous = run_record.read_for_training(config.train_dir) if chief else \
            run_record.read(config.train_dir)  # its channel statistics are kept
        previous_preprocessing = previous.preprocessing if previous else None
        clock = timing.Phases()
        self.horizon = self._fit_to_budget(config, strategy, previous_preprocessing, source,
                                           clock)
        super().__init__(config, strategy, previous_preprocessing, source,
                         self.horizon.scale if self.horizon else 1.0, clock)
        info = self.source.info
        self.is_chief = distribute.is_chief(self.strategy)
        self.checkpoints = RunCheckpoints(self.state, config.train_dir, self.strategy,
                                          config.max_checkpoints_to_keep, config.restore_fallback)
        self.max_loss = config.max_loss_for(info.num_classes)
        self.record = run_record.RunRecord(
            model=config.model, dataset=info.name, num_classes=info.num_classes,
            label_mode=config.label_mode, image_size=self.preprocessing.image_size,
            image_channels=info.image_shape[-1], max_steps=self.max_steps,
            optimizer=config.optimizer,
            data_source=config.data_source if source is None else type(source).__name__,
            batch_size=config.batch_size, preprocessing=self.preprocessing,
            settings=run_record.settings_of(config),
            **run_record.own_dataset_fields(info))
        self.evaluation = TrainingEvaluation(self.source, self.input_settings, self.state.model,
                                             self.strategy, self.compute_dtype,
                                             config.train_dir, self.is_chief,
                                             held_out.VALIDATION if config.validation_examples
                                             else "test")
        self._stop_signal: int | None = None
        self.last_loss: float | None = None  # the last logged training loss
        self.final_precision: float | None = None  # precision @ 1 at the end (eval_at_end)

    def _fit_to_budget(self, config: TrainConfig, strategy: tf.distribute.Strategy | None,
                       previous: preprocess.Preprocessing | None, source: Source | None,
                       clock: timing.Phases) -> time_budget.Horizon | None:
        """The run's horizon (convnet.training.time_budget): the one train_dir records, else
        one fitted to --time_budget by a probe and recorded, else None (no budget)."""
        path = os.path.join(config.train_dir, time_budget.HORIZON_FILE)
        recorded = time_budget.read(config.train_dir)
        if recorded is not None:
            if config.epoch_budget:
                raise ValueError(f"--epoch_budget: {config.train_dir} holds a run fitted to a "
                                 f"time budget ({path}); resume it without --epoch_budget, or "
                                 f"train in a new --train_dir")
            given = (f" (--time_budget={config.time_budget} is not used: a new horizon would "
                     f"change the schedule of the steps taken)"
                     if config.time_budget and time_budget.parse_duration(config.time_budget)
                     != recorded.budget_seconds else "")
            console.log(f"keeps the horizon of its {recorded.budget_seconds:.0f} s time budget "
                        f"in {path}: {recorded.steps:,} steps, x{recorded.scale:.4f} the "
                        f"settings' {recorded.unbudgeted_steps:,}{given}")
            return recorded
        if not config.time_budget:
            return None
        if checkpoint_files.latest_checkpoint(config.train_dir):
            raise ValueError(f"--time_budget: {config.train_dir} holds a run started without "
                             f"one (no {time_budget.HORIZON_FILE}); fitting its schedule now "
                             f"would change the steps already taken: resume it without "
                             f"--time_budget, or train in a new --train_dir")
        budget = time_budget.parse_duration(config.time_budget)
        clock.start("time budget probe")
        built, measured, unbudgeted = _probe(config, strategy, previous, source, clock,
                                             time_budget.probe_seconds(budget))
        horizon = time_budget.plan(budget, clock.elapsed(), built + measured.first_call_seconds,
                                   measured.step_seconds, unbudgeted)
        time_budget.write(config.train_dir, horizon)
        console.log(f"time budget {budget:.0f} s: a step takes {measured.step_seconds:.4f} s "
                    f"({measured.steps_timed} steps timed; build and first call "
                    f"{horizon.build_seconds:.1f} s, {horizon.spent_seconds:.1f} s spent); "
                    f"{horizon.steps:,} steps, x{horizon.scale:.4f} each step and epoch count "
                    f"of the settings ({unbudgeted:,} steps), recorded in {path}")
        return horizon

    def close(self) -> None:
        """Releases the train_dir's writer lock (`train()` does at its end; so does the end of
        the process) and turns off op determinism if this run turned it on."""
        if self._lock is not None:
            self._lock.release()
        if hasattr(self, "_determinism_was"):
            super().close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self._lock.release()

    # --- checkpoints -----------------------------------------------------------
    def restore(self) -> int:
        """Restores the newest checkpoint of train_dir that reads (RunCheckpoints.restore)."""
        return self.checkpoints.restore(self.record)

    def save(self) -> str:
        """Writes a checkpoint at the current step (every worker must call it)."""
        return self.checkpoints.save()

    # --- the Python loop ---------------------------------------------------

    def train(self) -> int:
        """Trains until `max_steps`; returns the final step.

        Raises:
          NonFiniteLossError: a non-finite loss (nan_policy 'stop'), or too many
            skipped batches in a row ('skip_batch').
          DivergedLossError: a loss above max_loss (nan_policy 'stop').
          Interrupted: SIGTERM or SIGINT arrived; a checkpoint was saved first.
        """
        with self._writer_lock():
            return self._train()

    def _train(self) -> int:
        config = self.config
        start = self.restore()
        if start >= self.max_steps:
            if self.is_chief and run_record.read(config.train_dir) is None:
                run_record.write(config.train_dir, self.record)  # a damaged one was set aside
            console.log(f"step {start} >= max_steps={self.max_steps}: nothing to do")
            return start
        if start == 0 and models.has_data_init(self.state.model):
            self.initialize_from_data()
        if self.is_chief:  # cleaning first frees the space a failed save took
            self.checkpoints.remove_unfinished_saves()
            run_record.write(config.train_dir, self.record)
        iterator = self.train_iterator(start)
        writer = (tf.summary.create_file_writer(config.train_dir) if self.is_chief
                  else tf.summary.create_noop_writer())
        step, saved_step = start, start
        watch = LossWatch(self.max_loss, config.nan_policy, self.schedule, self.checkpoints.latest)
        scalars = summaries.TrainingScalars()
        histograms = (summaries.Histograms(self.train_step)
                      if config.histogram_frequency and self.is_chief else None)
        profiler = StepProfiler(config.profile_range, config.train_dir, self.is_chief)
        if self.is_chief:
            summaries.write_hparams(writer, self.record.training_settings())
        self.clock.start("training")
        cluster = preemption.watch(self.strategy, config.train_dir, lambda: self._stop_signal,
                                   self.save)
        with self._signals_saved(), cluster as cluster_stop, contextlib.closing(profiler):
            while step < self.max_steps:
                if cluster_stop is not None:  # multi_worker: every worker saves and stops at once
                    cluster_stop.check(step, saved_step, writer)
                elif self._stop_signal is not None:
                    path = self.checkpoints.latest()
                    if step != saved_step or path is None:
                        path = self.save()
                    writer.close()
                    raise Interrupted(self._stop_signal, step, path)
                num_steps = self._round_end(step, profiler.boundaries()) - step
                self._log_image_size(step, start)
                learning_rate = float(self.schedule(step))
                profiler.before(step)
                began = time.perf_counter()
                with profiler.step_marker(step):
                    loss, finite, skipped, trailing, images, metrics = self.train_step(
                        iterator, tf.constant(num_steps, tf.int64))
                    loss, skipped = float(loss), int(skipped)
                elapsed = time.perf_counter() - began
                done = int(self.state.step.numpy()) - step
                step += done
                profiler.after(step)
                scalars.add(metrics)
                watch.check(step, loss, bool(finite), skipped, done, int(trailing))
                if done and (step % config.log_frequency == 0 or step == self.max_steps):
                    self._log(writer, step, done, elapsed, loss, learning_rate, scalars)
                if histograms and done and step % config.histogram_frequency == 0:
                    with writer.as_default(step=step):
                        histograms.write(metrics.images, metrics.labels)
                if step == self.max_steps and self.state.lookahead is not None:
                    self.state.lookahead.finish(self.state.model.variables)
                if done and (step % config.save_checkpoint_steps == 0 or step == self.max_steps):
                    path, saved_step = self.save(), step
                    with writer.as_default(step=step):
                        tf.summary.image("images", _displayable(images),
                                         max_outputs=train_step.SUMMARY_IMAGES)
                    writer.flush()
                    console.log(f"saved checkpoint {path}")
                if config.eval_every_steps and done and step % config.eval_every_steps == 0:
                    self.evaluation.every_steps(step, self.clock)
                if config.eval_every_epoch and done and step == self._next_epoch_end(step - 1):
                    self.evaluation.after_epoch(step, self.steps_per_epoch, self.clock)
        # The pipeline stops before the last lines: its iterator's destructor waits for the
        # work in flight, counted here as 'input shutdown', not after time to accuracy.
        self.clock.start("input shutdown")
        del iterator
        if config.eval_at_end:
            self.final_precision = self.evaluation.at_end(step, config.tta, self.clock)
        writer.close()
        return step

    def _log(self, writer, step: int, done: int, elapsed: float, loss: float,
             learning_rate: float, scalars: summaries.TrainingScalars) -> None:
        """The console line and the scalars of a log step."""
        examples_per_sec = done * self.config.batch_size / elapsed
        self.last_loss = loss
        console.log(f"step {step}, loss = {loss:.2f} ({examples_per_sec:.1f} "
                    f"examples/sec; {elapsed / done:.3f} sec/batch)")
        with writer.as_default(step=step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("examples_per_sec", examples_per_sec)
            scalars.write(loss)
            if self.state.loss_scale is not None:
                tf.summary.scalar("loss_scale", float(self.state.loss_scale.value.numpy()))

    def _log_image_size(self, step: int, start: int) -> None:
        """At the run's start and where a --progressive_resizing stage begins or ends: one line
        with the size the next steps train on."""
        if not self.image_sizes:
            return
        size = self.train_step.image_size(step)
        if step != start and size == self.train_step.image_size(step - 1):
            return
        full = self.input_shape[0]
        until = next((end for _, end in self.image_sizes if end > step), None)
        console.log(f"training on {size}x{size} images until step {until} "
                    f"(--progressive_resizing)" if size is not None else
                    f"training on full-size {full}x{full} images from step {step}")

    def _round_end(self, step: int, profile_boundaries=()) -> int:
        """The step the next call of the compiled step ends at: the first log, checkpoint,
        epoch end, histogram, evaluation, profiler, variable-freezing or image-size boundary
        after `step` (from a freezing step on, the step computes fewer gradients; from a
        --progressive_resizing stage's end on, it trains on other sizes), or max_steps."""
        config = self.config
        ends = [self.max_steps, self._next_epoch_end(step)]
        ends += [until for until in self.groups.train_until_steps
                 if until is not None and until > step]
        ends += [end for _, end in self.image_sizes if end > step]
        ends += [_next_multiple(step, every) for every in
                 (config.log_frequency, config.save_checkpoint_steps,
                  config.histogram_frequency, config.eval_every_steps) if every]
        ends += [boundary for boundary in profile_boundaries if boundary > step]
        return min(ends)

    def _next_epoch_end(self, step: int) -> int:
        """The next epoch's last step, or max_steps when evaluations after each epoch are off."""
        if not self.config.eval_every_epoch:
            return self.max_steps
        return next_epoch_end(step, self.steps_per_epoch)

    @contextlib.contextmanager
    def _writer_lock(self):
        """Holds the train_dir's writer lock (taken when the Trainer was made; taken again for
        a second `train()`) until training ends."""
        if self._lock is not None and not self._lock.held:
            self._lock = writer_lock.hold(self.config.train_dir)
        try:
            yield
        finally:
            self.close()

    @contextlib.contextmanager
    def _signals_saved(self):
        """While training, SIGTERM/SIGINT ask the loop to save and stop, acknowledged at once
        even mid-round; a second SIGINT exits at once with 130 (convnet.training.interrupts)."""

        def request_stop(signum):
            self._stop_signal = signum

        with interrupts.stop_on_signals(request_stop, self.checkpoints.latest):
            yield


def _next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every


def _displayable(images: tf.Tensor) -> tf.Tensor:
    """Rescales standardized images to [0, 1] per image for TensorBoard."""
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)


def train(config: TrainConfig, flags_text: str | None = None) -> int:
    """Builds a Trainer and trains; returns the final step. `flags_text` (the command's
    full flag file) is written to train_dir/flags.txt."""
    trainer = Trainer(config)
    if flags_text is not None and trainer.is_chief:
        run_record.write_flags(config.train_dir, flags_text)
    return trainer.train()
