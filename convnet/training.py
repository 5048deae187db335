"""The Trainer: assembles a run (data, state, step) and loops over the compiled step.

The same code runs under every `--strategy` (convnet.distribute): the state
(convnet.state) is created in `strategy.scope()` and the step
(convnet.train_step) runs several updates in one `tf.function` call, up to the
next log, checkpoint or epoch end, so Python is not in the per-step loop. A
non-finite loss is never applied: with `--nan_policy=stop` training stops with
`NonFiniteLossError` and the last checkpoint is left as it was; with
`skip_batch` the batch is skipped. A finite loss above `--max_loss` warns once
(`stop`: `DivergedLossError` before the diverged weights are saved).

Checkpoints (`tf.train.CheckpointManager`) hold the state; a rerun with the
same train_dir resumes from the newest one that reads and continues the same
data stream (convnet.data.pipeline.train_dataset); run.json (convnet.run_record)
says what they are of, and a resume of another model or batch size is refused.
SIGTERM and SIGINT save a checkpoint at the current step, then stop with
`Interrupted`. Nothing here deletes train_dir.
"""

import contextlib
import dataclasses
import time
from typing import Optional

import tensorflow as tf

from convnet import console, distribute, interrupts, memory, models, optim, paths, schedules
from convnet import precision, preemption, run_record, state as state_lib, timing, train_step
from convnet import variable_groups
from convnet.data import pipeline
from convnet.errors import Interrupted
from convnet.loss_watch import LossWatch
from convnet.run_checkpoints import RunCheckpoints
from convnet.train_config import TrainConfig
from convnet.training_evaluation import TrainingEvaluation, next_epoch_end


class Trainer:
    """Builds data, state (model, optimizer, EMA, ...), step and checkpoints from a `TrainConfig`.

    `strategy` overrides `config.strategy` with a ready `tf.distribute.Strategy`.
    """

    def __init__(self, config: TrainConfig, strategy: Optional[tf.distribute.Strategy] = None):
        config.validate()
        self.config = config
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        tf.random.set_seed(config.seed)
        self.strategy = strategy or distribute.make_strategy(config.strategy, config.tpu)
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise ValueError(f"--batch_size={config.batch_size} (the global batch) must be a "
                             f"multiple of the {replicas} replicas of --strategy={config.strategy}")
        self.compute_dtype = precision.compute_dtype(config.precision)
        self.clock = timing.Phases()
        self.clock.start("data")
        self.source = pipeline.make_source(config.source_spec())
        info = self.source.info
        examples_per_epoch = self.source.num_examples("train") or schedules.NUM_EXAMPLES_PER_EPOCH
        # The schedule spans --epochs when given; --max_steps may stop the run earlier (or later).
        self.schedule_steps = config.schedule_steps(examples_per_epoch)
        self.max_steps = config.max_steps or self.schedule_steps
        self.steps_per_epoch = examples_per_epoch / config.batch_size
        with self.strategy.scope():
            model = models.build_model(config.model, info.num_classes,
                                       config.resolved_weight_decay)
            previous = run_record.read(config.train_dir)  # its channel statistics are kept
            self.preprocessing = config.preprocessing(
                model.image_size, info, lambda: pipeline.channel_stats(self.source),
                previous.preprocessing if previous else None)
            self.input_settings = pipeline.InputSettings(
                self.preprocessing, config.num_parallel_calls, config.shuffle_buffer, config.seed)
            self.clock.start("initialisation")
            size = self.preprocessing.image_size
            input_shape = [size, size, info.image_shape[-1]]
            self.state = state_lib.build(
                model, input_shape, config.moving_average_decay,
                optim.make_optimizer(config.optimizer, config.momentum, config.nesterov),
                config.make_lookahead(self.schedule_steps, self.steps_per_epoch),
                precision.DynamicLossScale()
                if self.compute_dtype == tf.float16 else None)
            memory.check_train_batch(config.batch_size, model, input_shape,
                                     self.source.num_examples("train"), info.name,
                                     self.compute_dtype)
        self.schedule = schedules.make_schedule(
            config.schedule_name, config.resolved_learning_rate, config.batch_size,
            num_epochs_per_decay=config.num_epochs_per_decay,
            decay_factor=config.lr_decay_factor, examples_per_epoch=examples_per_epoch,
            boundary_epochs=config.lr_boundary_epochs, total_steps=self.schedule_steps,
            warmup_fraction=config.lr_warmup_fraction, start_factor=config.lr_start_factor,
            end_factor=config.lr_end_factor)
        self.groups = self._variable_groups()
        self.train_step = train_step.TrainStep(
            self.state, self.strategy, self.schedule, self.groups, config.batch_size,
            config.label_smoothing, self.compute_dtype, config.nan_policy == "stop", config.xla)
        self.is_chief = distribute.is_chief(self.strategy)
        self.checkpoints = RunCheckpoints(self.state, config.train_dir, self.strategy,
                                          config.max_checkpoints_to_keep, config.restore_fallback)
        self.max_loss = config.max_loss_for(info.num_classes)
        self.record = run_record.RunRecord(
            model=config.model, dataset=info.name, num_classes=info.num_classes,
            label_mode=config.label_mode, image_size=size, image_channels=info.image_shape[-1],
            max_steps=self.max_steps, optimizer=config.optimizer,
            data_source=config.data_source, batch_size=config.batch_size,
            preprocessing=self.preprocessing, settings=dataclasses.asdict(config))
        self.evaluation = TrainingEvaluation(self.source, self.input_settings, model,
                                             self.strategy, self.compute_dtype,
                                             config.train_dir, self.is_chief)
        self._stop_signal: Optional[int] = None

    def _variable_groups(self) -> variable_groups.Assignment:
        """--variable_groups resolved over the trainable variables (a typo is an error)."""
        groups = variable_groups.parse(self.config.variable_groups)
        trainable = self.state.model.trainable_variables
        unmatched = variable_groups.unmatched(groups, trainable)
        if unmatched:
            raise ValueError(f"--variable_groups: {', '.join(map(repr, unmatched))} matches no "
                             f"trainable variable of --model={self.config.model} (its names: "
                             f"{', '.join(v.name for v in trainable)})")
        return variable_groups.assign(groups, trainable, self.steps_per_epoch)

    # --- data ----------------------------------------------------------------

    def train_iterator(self, start_step: int = 0):
        """An iterator of per-replica training batches continuing after `start_step` steps.

        Each input pipeline (one a worker) reads its own shard of the split, in
        batches of the per-replica size.
        """
        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            pipelines = context.num_input_pipelines
            return self.train_dataset(
                context.get_per_replica_batch_size(self.config.batch_size),
                start_example=start_step * self.config.batch_size // pipelines,
                num_shards=pipelines, shard_index=context.input_pipeline_id)

        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def train_dataset(self, batch_size: int, start_example: int = 0, num_shards: int = 1,
                      shard_index: int = 0) -> tf.data.Dataset:
        """This run's training pipeline (`pipeline.train_dataset`) in batches of `batch_size`."""
        return pipeline.train_dataset(self.source, batch_size, self.input_settings,
                                      start_example=start_example, num_shards=num_shards,
                                      shard_index=shard_index)

    def distribute(self, dataset: tf.data.Dataset):
        """An iterator over `dataset`'s global batches, each split across the replicas."""
        return iter(self.strategy.experimental_distribute_dataset(dataset))

    def run_steps(self, iterator, num_steps: int):
        """Runs `num_steps` batches of `iterator`; returns (loss, finite, batches skipped, images)."""
        loss, finite, skipped, _, images = self.train_step(iterator,
                                                           tf.constant(num_steps, tf.int64))
        return loss, finite, skipped, images

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
        config = self.config
        start = self.restore()
        if start >= self.max_steps:
            console.log(f"step {start} >= max_steps={self.max_steps}: nothing to do")
            return start
        if start == 0 and models.has_data_init(self.state.model):
            self._initialize_from_data()
        if self.is_chief:  # cleaning first frees the space a failed save took
            self.checkpoints.remove_unfinished_saves()
            run_record.write(config.train_dir, self.record)
        iterator = self.train_iterator(start)
        writer = (tf.summary.create_file_writer(config.train_dir) if self.is_chief
                  else tf.summary.create_noop_writer())
        step, saved_step = start, start
        watch = LossWatch(self.max_loss, config.nan_policy, self.schedule, self.checkpoints.latest)
        self.clock.start("training")
        with self._signals_saved(), preemption.watch(self) as cluster_stop:
            while step < self.max_steps:
                if cluster_stop is not None:  # multi_worker: every worker saves and stops at once
                    cluster_stop.check(step, saved_step, writer)
                elif self._stop_signal is not None:
                    path = self.checkpoints.latest()
                    if step != saved_step or path is None:
                        path = self.save()
                    writer.close()
                    raise Interrupted(self._stop_signal, step, path)
                num_steps = min(config.log_frequency - step % config.log_frequency,
                                config.save_checkpoint_steps - step % config.save_checkpoint_steps,
                                self.max_steps - step, self._next_epoch_end(step) - step)
                learning_rate = float(self.schedule(step))
                began = time.perf_counter()
                loss, finite, skipped, trailing, images = self.train_step(
                    iterator, tf.constant(num_steps, tf.int64))
                loss, skipped = float(loss), int(skipped)
                elapsed = time.perf_counter() - began
                done = int(self.state.step.numpy()) - step
                step += done
                watch.check(step, loss, bool(finite), skipped, done, int(trailing))
                if done and (step % config.log_frequency == 0 or step == self.max_steps):
                    self._log(writer, step, done, elapsed, loss, learning_rate)
                if step == self.max_steps and self.state.lookahead is not None:
                    self.state.lookahead.finish(self.state.model.variables)
                if done and (step % config.save_checkpoint_steps == 0 or step == self.max_steps):
                    path, saved_step = self.save(), step
                    with writer.as_default(step=step):
                        tf.summary.image("images", _displayable(images),
                                         max_outputs=train_step.SUMMARY_IMAGES)
                    writer.flush()
                    console.log(f"saved checkpoint {path}")
                if config.eval_every_epoch and done and step == self._next_epoch_end(step - 1):
                    self.evaluation.after_epoch(step, self.steps_per_epoch, self.clock)
        if config.eval_at_end:
            self.evaluation.at_end(step, config.tta, self.clock)
        writer.close()
        return step

    def _log(self, writer, step: int, done: int, elapsed: float, loss: float,
             learning_rate: float) -> None:
        """The console line and the scalars of a log step."""
        examples_per_sec = done * self.config.batch_size / elapsed
        console.log(f"step {step}, loss = {loss:.2f} ({examples_per_sec:.1f} "
                    f"examples/sec; {elapsed / done:.3f} sec/batch)")
        with writer.as_default(step=step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("examples_per_sec", examples_per_sec)
            if self.state.loss_scale is not None:
                tf.summary.scalar("loss_scale", float(self.state.loss_scale.value.numpy()))

    def _initialize_from_data(self) -> None:
        """Runs the model's data-dependent initialisation (convnet.models) on the first
        `init_examples` training images, preprocessed as for evaluation; once, at step 0."""
        model = self.state.model
        count = min(model.init_examples, self.source.num_examples("train") or
                    model.init_examples)
        images, _ = next(iter(pipeline.eval_dataset(self.source, "train", count,
                                                     self.input_settings, num_examples=count)))
        with self.strategy.scope():
            model.initialize_from_data(images)
        console.log(f"initialised {self.config.model} from the first {count} training images")

    def _next_epoch_end(self, step: int) -> int:
        """The next epoch's last step, or max_steps when evaluations after each epoch are off."""
        if not self.config.eval_every_epoch:
            return self.max_steps
        return next_epoch_end(step, self.steps_per_epoch)

    @contextlib.contextmanager
    def _signals_saved(self):
        """While training, SIGTERM/SIGINT ask the loop to save and stop, acknowledged at once
        even mid-round; a second SIGINT exits at once with 130 (convnet.interrupts)."""

        def request_stop(signum):
            self._stop_signal = signum

        with interrupts.stop_on_signals(request_stop, self.checkpoints.latest):
            yield


def _displayable(images: tf.Tensor) -> tf.Tensor:
    """Rescales standardized images to [0, 1] per image for TensorBoard."""
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)


def train(config: TrainConfig, flags_text: Optional[str] = None) -> int:
    """Builds a Trainer and trains; returns the final step. `flags_text` (the command's
    full flag file) is written to train_dir/flags.txt."""
    paths.ensure_writable_dir(config.train_dir, "--train_dir")
    trainer = Trainer(config)
    if flags_text is not None and trainer.is_chief:
        run_record.write_flags(config.train_dir, flags_text)
    return trainer.train()
