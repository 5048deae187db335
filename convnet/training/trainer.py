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
import dataclasses
import os
import time
from collections.abc import Sequence

import tensorflow as tf

from convnet import models
from convnet.checkpoints import counted_time, run_record, writer_lock
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints.manager import RunCheckpoints
from convnet.checkpoints.state import State
from convnet.data import preprocess
from convnet.data.sources import held_out
from convnet.data.sources.base import Source
from convnet.runtime import console, distribute, timing
from convnet.runtime.errors import Interrupted
from convnet.training import callbacks as callbacks_lib
from convnet.training import (
    interrupts,
    lost_worker,
    periodic_jobs,
    preemption,
    summaries,
    time_budget,
)
from convnet.training import step as train_step
from convnet.training.callbacks import Callback, Progress
from convnet.training.config import TrainConfig
from convnet.training.in_run_evaluation import TrainingEvaluation
from convnet.training.loss_watch import LossWatch
from convnet.training.profiling import StepProfiler
from convnet.training.setup import TrainingSetup


def _probe(config: TrainConfig, strategy: tf.distribute.Strategy | None,
           previous: preprocess.Preprocessing | None, *, source: Source | None,
           clock: timing.Phases, seconds: float) -> tuple[float, time_budget.Measurement, int]:
    """A `TrainingSetup` of `config` built and its steps timed (`time_budget.measure`), then
    dropped: (seconds to build it and its input, the measurement, its steps unscaled)."""
    began = clock.now()
    probe = TrainingSetup(config, strategy, previous, source=source)
    try:
        iterator = probe.train_iterator(0)
        built = clock.now() - began
        measured = time_budget.measure(
            lambda steps: float(probe.run_steps(iterator, steps).loss), clock.now, seconds)
        return built, measured, probe.max_steps
    finally:
        probe.close()


class Trainer:
    """A run: its `TrainingSetup` (`setup`: data, state, schedule, compiled step) with the
    run's checkpoints, record and evaluations, and the loop over the compiled step.

    `strategy` overrides `config.compute.strategy` with a ready `tf.distribute.Strategy`; `source`
    (any `convnet.data.Source`) replaces the config's data settings; `callbacks`
    (`convnet.training.Callback`s) run after the Trainer's own periodic jobs, in the same
    loop. The Trainer (the chief's) holds train_dir's writer lock from its making, before any
    data is read, until `train()` ends or `close()` (also `with Trainer(...) as trainer:`).
    """

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None,
                 source: Source | None = None, *, callbacks: Sequence[Callback] = ()):
        # First of all, before reading data: one writer per train_dir (checkpoints.writer_lock).
        config.validate()
        self.config = config
        self.callbacks = callbacks_lib.check(callbacks)
        self.setup: TrainingSetup | None = None
        chief = (distribute.is_chief(strategy) if strategy is not None
                 else distribute.is_chief_task(config.compute.strategy))
        self._lock = writer_lock.hold(config.train_dir) if chief else None
        try:
            self._build(config, strategy, chief, source=source)
        except BaseException:
            self.close()
            raise

    def _build(self, config: TrainConfig, strategy: tf.distribute.Strategy | None,
               chief: bool, *, source: Source | None) -> None:
        previous = run_record.read_for_training(config.train_dir) if chief else \
            run_record.read(config.train_dir)  # its channel statistics are kept
        previous_preprocessing = previous.preprocessing if previous else None
        clock = timing.Phases()
        self.horizon = self._fit_to_budget(config, strategy, previous_preprocessing, source=source,
                                           clock=clock)
        setup = self.setup = TrainingSetup(config, strategy, previous_preprocessing, source=source,
                                           time_scale=self.horizon.scale if self.horizon else 1.0,
                                           clock=clock)
        config = self.config = setup.config  # --optimizer=auto resolved for the model
        info = setup.source.info
        self.is_chief = distribute.is_chief(setup.strategy)
        self.checkpoints = RunCheckpoints(setup.state, config.train_dir, setup.strategy,
                                          max_to_keep=config.max_checkpoints_to_keep,
                                          restore_fallback=config.restore_fallback)
        self.max_loss = config.max_loss_for(info.num_classes)
        self.record = run_record.RunRecord(
            model=config.model, dataset=info.name, num_classes=info.num_classes,
            label_mode=config.data.label_mode, image_size=setup.preprocessing.image_size,
            image_channels=info.image_shape[-1], max_steps=setup.max_steps,
            optimizer=config.optim.optimizer,
            data_source=config.data.data_source if source is None else type(source).__name__,
            batch_size=config.data.batch_size, preprocessing=setup.preprocessing,
            settings=run_record.settings_of(config),
            **run_record.own_dataset_fields(info))
        self.evaluation = TrainingEvaluation(setup.source, setup.input_settings,
                                             setup.state.model, strategy=setup.strategy,
                                             compute_dtype=setup.compute_dtype,
                                             train_dir=config.train_dir,
                                             is_chief=self.is_chief,
                                             every_steps_split=(held_out.VALIDATION
                                                                if config.validation_examples
                                                                else "test"))
        self._stop_signal: int | None = None
        self.last_loss: float | None = None  # the last round's training loss
        self.final_precision: float | None = None  # precision @ 1 at the end (eval_at_end)
        self.stop_reason: str | None = None  # why a callback stopped the run, if one did

    # --- what the setup made, read often -----------------------------------------
    @property
    def state(self) -> State:
        """The model, optimizer, moving averages and step (convnet.checkpoints.state)."""
        return self.setup.state

    @property
    def source(self) -> Source:
        """The run's data."""
        return self.setup.source

    @property
    def strategy(self) -> tf.distribute.Strategy:
        return self.setup.strategy

    @property
    def max_steps(self) -> int:
        """The step the run ends at (after --time_budget or --epoch_budget scaling)."""
        return self.setup.max_steps

    @property
    def train_step(self) -> train_step.TrainStep:
        """The compiled step (convnet.training.step)."""
        return self.setup.train_step

    @property
    def clock(self) -> timing.Phases:
        """The run's wall time from process start, by phase."""
        return self.setup.clock

    def _fit_to_budget(self, config: TrainConfig, strategy: tf.distribute.Strategy | None,
                       previous: preprocess.Preprocessing | None, *, source: Source | None,
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
        built, measured, unbudgeted = _probe(config, strategy, previous, source=source, clock=clock,
                                             seconds=time_budget.probe_seconds(budget))
        horizon = time_budget.plan(budget, clock.elapsed(), built + measured.first_call_seconds,
                                   step_seconds=measured.step_seconds, unbudgeted_steps=unbudgeted)
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
        if self.setup is not None:
            self.setup.close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- checkpoints -----------------------------------------------------------
    def restore(self) -> int:
        """Restores the newest checkpoint of train_dir that reads (RunCheckpoints.restore)."""
        return self.checkpoints.restore(self.record)

    def save(self) -> str:
        """Writes a checkpoint at the current step (every worker must call it); the chief
        records the seconds counted so far beside it (convnet.checkpoints.counted_time)."""
        path = self.checkpoints.save()
        if self.is_chief:
            counted_time.record(self.config.train_dir, int(self.state.step.numpy()),
                                self.clock.elapsed())
        return path

    def _carry_earlier_launches(self, step: int) -> None:
        """Time to accuracy of a resumed run counts what its earlier launches had counted
        up to the checkpoint of `step`."""
        seconds = counted_time.carried(self.config.train_dir, step)
        if seconds is None:
            console.log(f"the seconds counted before step {step} are unknown (no entry in "
                        f"{counted_time.COUNTED_FILE}): time to accuracy counts this launch")
            return
        self.clock.carry(seconds)
        console.log(f"time to accuracy goes on from the {seconds:.1f} s counted up to step "
                    f"{step} by earlier launches")

    # --- the Python loop ---------------------------------------------------

    def train(self) -> int:
        """Trains until `max_steps` (or a callback stops the run); returns the final step.

        Raises:
          NonFiniteLossError: a non-finite loss (nan_policy 'stop'), or too many
            skipped batches in a row ('skip_batch').
          DivergedLossError: a loss above max_loss (nan_policy 'stop').
          Interrupted: SIGTERM or SIGINT arrived; a checkpoint was saved first.
        """
        with self._writer_lock():
            return self._train()

    def _jobs(self, writer, start: int) -> tuple[list[Callback], periodic_jobs.SaveCheckpoint]:
        """The Trainer's periodic jobs in loop order, then the user's callbacks."""
        config, setup = self.config, self.setup
        log = periodic_jobs.LogLine(config.log_frequency, writer, config.data.batch_size,
                                    loss_scale=setup.state.loss_scale)
        save = periodic_jobs.SaveCheckpoint(config.save_checkpoint_steps, self.save, writer,
                                            start_step=start)
        jobs = [periodic_jobs.LossCheck(LossWatch(self.max_loss, config.nan_policy,
                                                  setup.schedule,
                                                  last_checkpoint=self.checkpoints.latest)),
                periodic_jobs.StepStructure(setup.groups.train_until_steps, setup.image_sizes,
                                            setup.train_step.image_size,
                                            full_size=setup.input_shape[0]),
                log]
        if config.histogram_frequency and self.is_chief:
            jobs.append(periodic_jobs.HistogramSummaries(config.histogram_frequency, writer,
                                                         setup.train_step))
        if setup.state.lookahead is not None:
            jobs.append(periodic_jobs.FinishLookahead(setup.state.lookahead,
                                                      setup.state.model.variables))
        jobs.append(save)
        if config.eval_every_steps:
            jobs.append(periodic_jobs.EvaluateEverySteps(config.eval_every_steps,
                                                         self.evaluation, setup.clock))
        if config.eval_every_epoch:
            jobs.append(periodic_jobs.EvaluateAfterEpoch(self.evaluation, setup.clock,
                                                         setup.steps_per_epoch))
        return jobs + self.callbacks, save

    def _train(self) -> int:
        config, setup = self.config, self.setup
        start = self.restore()
        if start >= setup.max_steps:
            if self.is_chief and run_record.read(config.train_dir) is None:
                run_record.write(config.train_dir, self.record)  # a damaged one was set aside
            console.log(f"step {start} >= max_steps={setup.max_steps}: nothing to do")
            return start
        if start:
            self._carry_earlier_launches(start)
        elif models.has_data_init(setup.state.model):
            setup.initialize_from_data()
        if self.is_chief:  # cleaning first frees the space a failed save took
            self.checkpoints.remove_unfinished_saves()
            run_record.write(config.train_dir, self.record)
        iterator = setup.train_iterator(start)
        writer = (tf.summary.create_file_writer(config.train_dir) if self.is_chief
                  else tf.summary.create_noop_writer())
        jobs, save = self._jobs(writer, start)
        progress = Progress(step=start, max_steps=setup.max_steps,
                            steps_per_epoch=setup.steps_per_epoch, state=setup.state,
                            train_dir=config.train_dir)
        profiler = StepProfiler(config.profile_range, config.train_dir, self.is_chief)
        if self.is_chief:
            summaries.write_hparams(writer, self.record.training_settings())
        for job in jobs:
            job.on_train_begin(progress)
        setup.clock.start("training")
        cluster = preemption.watch(setup.strategy, config.train_dir, lambda: self._stop_signal,
                                   save=self.save)
        step = start
        lost = lost_worker.reported(setup.strategy, lambda: step, self.checkpoints.latest)
        with self._signals_saved(), cluster as cluster_stop, contextlib.closing(profiler), lost:
            while step < setup.max_steps and progress.stop_reason is None:
                if cluster_stop is not None:  # multi_worker: every worker saves and stops at once
                    cluster_stop.check(step, save.saved_step, writer)
                elif self._stop_signal is not None:
                    path = self.checkpoints.latest()
                    if step != save.saved_step or path is None:
                        path = self.save()
                    writer.close()
                    raise Interrupted(self._stop_signal, step, path)
                end, due = callbacks_lib.round_end(jobs, step, setup.max_steps,
                                                   extra=profiler.boundaries())
                learning_rate = float(setup.schedule(step))
                profiler.before(step)
                began = time.perf_counter()
                with profiler.step_marker(step):
                    result = setup.train_step(iterator, tf.constant(end - step, tf.int64))
                    loss = float(result.loss)
                seconds = time.perf_counter() - began
                done = int(setup.state.step.numpy()) - step
                step += done
                profiler.after(step)
                progress = dataclasses.replace(progress, step=step, round_steps=done, loss=loss,
                                               learning_rate=learning_rate, seconds=seconds,
                                               result=result)
                for job in jobs:
                    job.on_round(progress)
                if done:
                    for job, at in zip(jobs, due, strict=True):
                        if at is not None and at <= step:
                            job.on_step(progress)
            if progress.stop_reason is not None:
                self.stop_reason = progress.stop_reason
                path = self.checkpoints.latest()
                if step != save.saved_step or path is None:
                    path = self.save()
                console.log(f"stopped at step {step} by a callback: {progress.stop_reason} "
                            f"(checkpoint {path}; the same command resumes the run)")
        self.last_loss = progress.loss
        for job in jobs:
            job.on_train_end(progress)
        # The pipeline stops before the last lines: its iterator's destructor waits for the
        # work in flight, counted here as 'input shutdown', not after time to accuracy.
        setup.clock.start("input shutdown")
        del iterator
        if config.eval_at_end:
            self.final_precision = self.evaluation.at_end(step, config.tta, setup.clock)
        writer.close()
        return step

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


def train(config: TrainConfig, flags_text: str | None = None) -> int:
    """Builds a Trainer and trains; returns the final step. `flags_text` (the command's
    full flag file) is written to train_dir/flags.txt."""
    trainer = Trainer(config)
    if flags_text is not None and trainer.is_chief:
        run_record.write_flags(config.train_dir, flags_text)
    return trainer.train()
