"""The Trainer: a custom `tf.function` training loop with checkpoints and summaries.

Loss = mean sparse softmax cross-entropy + sum(wd * l2_loss(w)) over decayed
weights, through `tf.nn.compute_average_loss` (global batch) and
`tf.nn.scale_regularization_loss`, so any number of replicas gives the same
gradients. Several steps run inside one `tf.function` call (up to the next log
or checkpoint step), so Python is not in the per-step loop.

The same code runs under every `--strategy` (convnet.distribute): variables,
optimizer, EMA and checkpoint are created in `strategy.scope()`, each replica
computes its gradients (XLA-compiled with `--xla`, in float16/bfloat16 with
`--precision`), they are summed across replicas, and the update is applied once
in cross-replica context. A step whose loss or gradients are not finite is
never applied: with `--nan_policy=stop` training stops with
`NonFiniteLossError` and the last checkpoint is left as it was; with
`skip_batch` the batch is skipped (float16's loss scale skips overflowing
steps by itself).

Checkpoints (`tf.train.Checkpoint` + `CheckpointManager`) hold the model, the
optimizer, the weight EMA, the loss scale and the step; a rerun with the same
train_dir resumes from the latest one and continues the same data stream
(convnet.data.pipeline.train_dataset). SIGTERM and SIGINT save a checkpoint at
the current step, then stop with `Interrupted`. Nothing here deletes train_dir.
"""

import contextlib
import dataclasses
import math
import os
import signal
import time
from typing import Any, Dict, Optional, Sequence

import tensorflow as tf

from convnet import checkpointing, console, distribute, evaluation, models, optim, precision, tta
from convnet import interrupts, lookahead, losses, memory, paths, timing, variable_groups
from convnet.data import pipeline, preprocess
from convnet.errors import DivergedLossError, NonFiniteLossError

# Step budget when neither --max_steps nor --epochs is given (the tutorial's).
DEFAULT_MAX_STEPS = 1000000
# Images written to TensorBoard at each checkpoint.
SUMMARY_IMAGES = 3
NAN_POLICIES = ("stop", "skip_batch")
# --nan_policy=skip_batch gives up after this many non-finite batches in a row.
MAX_SKIPPED_IN_A_ROW = 100
# Default --max_loss: this many times ln(num_classes), the loss of a uniform guess that every
# run starts near. (Not the first logged loss: a diverging run's is already absurd.)
DIVERGENCE_FACTOR = 1e4


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; the flags of `convnet.train` map onto it."""
    train_dir: str = "/tmp/cifar10_train"
    max_steps: Optional[int] = None  # None: the --epochs budget, else DEFAULT_MAX_STEPS
    batch_size: int = 128
    model: str = "cifar10"
    dataset: Optional[str] = "cifar10"  # None means cifar10
    data_source: str = "files"
    data_dir: str = "/tmp/cifar10_data"
    tfds_data_dir: Optional[str] = None
    download: bool = True
    label_mode: str = "fine"
    epochs: Optional[float] = None  # the schedule's horizon; the step budget unless max_steps
    weight_decay: Optional[float] = None  # None: the model's default
    augmentation: str = "auto"  # tutorial for the tutorial model, pad_crop for the others
    normalization: str = "auto"  # per_image with tutorial augmentation, else per_channel
    random_flip: Optional[bool] = None  # None: on, except for MNIST digits
    translate: int = preprocess.TRANSLATE_PIXELS  # translate_altflip's largest shift, pixels
    optimizer: str = "sgd"
    learning_rate: Optional[float] = None  # None: optim.default_learning_rate(optimizer)
    momentum: float = 0.0
    nesterov: bool = False
    lr_decay: bool = False  # shorthand for lr_schedule='exponential'
    lr_schedule: str = "constant"
    lr_boundary_epochs: Sequence[float] = ()
    lr_decay_factor: float = optim.LEARNING_RATE_DECAY_FACTOR
    lr_warmup_fraction: float = optim.WARMUP_FRACTION  # warmup_linear only
    lr_start_factor: float = optim.WARMUP_START_FACTOR
    lr_end_factor: float = optim.END_FACTOR
    decoupled_hyperparameters: bool = False  # learning_rate/weight_decay per 1,024 examples
    label_smoothing: float = 0.0
    variable_groups: str = ""  # convnet.variable_groups: 'PATTERN:key=value,...;...'
    lookahead_every: int = 0  # 0: no lookahead averaging (convnet.lookahead)
    lookahead_base: float = 0.95
    lookahead_power: float = 3.0
    lookahead_start_epoch: float = 0.0
    eval_at_end: bool = False  # evaluate the test split at the end, with the time split
    eval_every_epoch: bool = False  # and after each epoch (not timed)
    tta: str = "none"  # test-time augmentation of those evaluations (convnet.tta)
    num_epochs_per_decay: float = optim.NUM_EPOCHS_PER_DECAY
    moving_average_decay: float = optim.MOVING_AVERAGE_DECAY
    num_parallel_calls: int = 16
    shuffle_buffer: int = pipeline.SHUFFLE_BUFFER
    log_frequency: int = 10
    save_checkpoint_steps: int = 1000
    max_checkpoints_to_keep: int = 5
    seed: int = 0
    deterministic: bool = False  # op determinism: same seed, same losses and weights
    nan_policy: str = "stop"
    max_loss: Optional[float] = None  # None: DIVERGENCE_FACTOR x ln(num_classes)
    restore_fallback: bool = True  # skip damaged checkpoints, restoring the newest that reads
    strategy: str = "default"
    tpu: Optional[str] = None
    precision: str = "float32"
    xla: bool = False

    def __post_init__(self):
        self.dataset = self.dataset or "cifar10"
        self.label_mode = self.label_mode or "fine"
        self.lr_boundary_epochs = tuple(float(e) for e in self.lr_boundary_epochs)

    def validate(self) -> None:
        for name in ("max_steps", "batch_size", "log_frequency", "save_checkpoint_steps",
                     "max_checkpoints_to_keep"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.max_loss is not None and not self.max_loss > 0:
            raise ValueError(f"--max_loss must be positive, got {self.max_loss}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"--epochs must be positive, got {self.epochs}")
        if self.lookahead_every < 0 or self.lookahead_start_epoch < 0:
            raise ValueError(f"--lookahead_every and --lookahead_start_epoch must be >= 0, got "
                             f"{self.lookahead_every}, {self.lookahead_start_epoch}")
        if self.decoupled_hyperparameters and (self.optimizer != "sgd" or not self.momentum
                                               or self.learning_rate is None):
            raise ValueError("--decoupled_hyperparameters is a form of SGD with momentum: pass "
                             "--optimizer=sgd, --momentum and --learning_rate")
        # Checks only: no TensorFlow op may run here, before a multi_worker strategy exists.
        losses.check_label_smoothing(self.label_smoothing)
        tta.check_mode(self.tta)
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
        if self.num_parallel_calls <= 0 and self.num_parallel_calls != tf.data.AUTOTUNE:
            raise ValueError(f"--num_parallel_calls must be positive or -1 (autotune), "
                             f"got {self.num_parallel_calls}")
        if not self.train_dir:
            raise ValueError("--train_dir must not be empty")
        if self.nan_policy not in NAN_POLICIES:
            raise ValueError(f"unknown --nan_policy={self.nan_policy!r}: choose from "
                             f"{', '.join(NAN_POLICIES)}")
        if self.strategy not in distribute.STRATEGIES:
            raise ValueError(f"unknown --strategy={self.strategy!r}: choose from "
                             f"{', '.join(distribute.STRATEGIES)}")
        precision.compute_dtype(self.precision)

    @property
    def schedule_name(self) -> str:
        return "exponential" if self.lr_decay else self.lr_schedule

    @property
    def resolved_learning_rate(self) -> float:
        """The learning rate of the mean loss (converted from the decoupled form if asked)."""
        if self.learning_rate is None:
            return optim.default_learning_rate(self.optimizer)
        if self.decoupled_hyperparameters:
            return optim.from_decoupled(self.learning_rate, 0.0, self.momentum,
                                        self.batch_size)[0]
        return self.learning_rate

    @property
    def resolved_weight_decay(self) -> Optional[float]:
        """The L2 coefficient of the loss (converted from the decoupled form if asked)."""
        if self.weight_decay is None or not self.decoupled_hyperparameters:
            return self.weight_decay
        return optim.from_decoupled(self.learning_rate, self.weight_decay, self.momentum,
                                    self.batch_size)[1]


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; `signum` says which."""

    def __init__(self, signum: int, step: int, path: Optional[str]):
        self.signum, self.step, self.path = signum, step, path
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped at step {step} after saving {path}; run the "
                         f"same command to resume.")


class Trainer:
    """Builds data, model, optimizer, EMA and checkpoint from a `TrainConfig`.

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
        self.source = pipeline.make_source(config.data_source, config.data_dir,
                                           config.tfds_data_dir, config.download,
                                           config.dataset, config.seed, label_mode=config.label_mode)
        info = self.source.info
        examples_per_epoch = self.source.num_examples("train") or optim.NUM_EXAMPLES_PER_EPOCH
        # The schedule spans --epochs when given; --max_steps may stop the run earlier (or later).
        schedule_steps = DEFAULT_MAX_STEPS
        if config.epochs:
            schedule_steps = max(1, math.ceil(config.epochs * examples_per_epoch / config.batch_size))
        self.max_steps = config.max_steps or schedule_steps
        self.steps_per_epoch = examples_per_epoch / config.batch_size
        self.schedule_steps = schedule_steps if config.epochs else self.max_steps
        with self.strategy.scope():
            self.model = models.build_model(config.model, info.num_classes,
                                            config.resolved_weight_decay)
            self.preprocessing = self._preprocessing(
                checkpointing.read_run_config(config.train_dir) or {})
            self.clock.start("initialisation")
            size = self.preprocessing.image_size
            self.model(tf.zeros([1, size, size, info.image_shape[-1]]))
            memory.check_train_batch(config.batch_size, self.model,
                                     [size, size, info.image_shape[-1]],
                                     self.source.num_examples("train"), info.name,
                                     self.compute_dtype)
            self.variables = self.model.trainable_variables
            self.optimizer = optim.make_optimizer(config.optimizer, config.momentum,
                                                  config.nesterov)
            self.optimizer.build(self.variables)
            self.ema = optim.WeightEMA(config.moving_average_decay)
            self.ema.build(self.variables)
            self.lookahead = None
            if config.lookahead_every:
                self.lookahead = lookahead.Lookahead(
                    self.schedule_steps, config.lookahead_every, config.lookahead_base,
                    config.lookahead_power,
                    math.ceil(config.lookahead_start_epoch * self.steps_per_epoch))
                self.lookahead.build(self.model.variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            self.loss_scale = (precision.DynamicLossScale()
                               if self.compute_dtype == tf.float16 else None)
        self.schedule = optim.make_schedule(
            config.schedule_name, config.resolved_learning_rate, config.batch_size,
            config.num_epochs_per_decay, config.lr_decay_factor, examples_per_epoch,
            config.lr_boundary_epochs, self.schedule_steps, config.lr_warmup_fraction,
            config.lr_start_factor, config.lr_end_factor)
        groups = variable_groups.parse(config.variable_groups)
        unmatched = variable_groups.unmatched(groups, self.variables)
        if unmatched:
            raise ValueError(f"--variable_groups: {', '.join(map(repr, unmatched))} matches no "
                             f"trainable variable of --model={config.model} (its names: "
                             f"{', '.join(v.name for v in self.variables)})")
        self.groups = variable_groups.assign(groups, self.variables, self.steps_per_epoch)
        tracked = dict(step=self.step, model=self.model, optimizer=self.optimizer, ema=self.ema)
        if self.loss_scale is not None:
            tracked["loss_scale"] = self.loss_scale
        if self.lookahead is not None:
            tracked["lookahead"] = self.lookahead
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self.is_chief = distribute.is_chief(self.strategy)
        if not config.restore_fallback:
            checkpointing.latest_checkpoint(config.train_dir, strict=True)  # fails clearly now
        self.manager = self._make_manager()
        self.max_loss = config.max_loss or DIVERGENCE_FACTOR * math.log(max(info.num_classes, 2))
        self.run_config = {"model": config.model, "dataset": info.name,
                           "num_classes": info.num_classes, "label_mode": config.label_mode,
                           "image_size": size,
                           "image_channels": info.image_shape[-1], "max_steps": self.max_steps,
                           "optimizer": config.optimizer, "data_source": config.data_source,
                           "preprocessing": dataclasses.asdict(self.preprocessing)}
        # XLA: the whole step under the default strategy; under a distribution
        # strategy only the gradient computation (the all-reduce and update stay outside).
        replicated = self.strategy is not tf.distribute.get_strategy() or replicas > 1
        self._gradients_fn = (tf.function(self._gradients, jit_compile=True)
                              if config.xla and replicated else self._gradients)
        self._replica_step_fn = (tf.function(self._replica_step, jit_compile=True)
                                 if config.xla and not replicated else self._replica_step)
        self._stop_signal: Optional[int] = None

    def _make_manager(self) -> tf.train.CheckpointManager:
        """A CheckpointManager of train_dir (it reads the state file when made)."""
        return tf.train.CheckpointManager(
            self.checkpoint, distribute.write_dir(self.config.train_dir, self.strategy),
            max_to_keep=self.config.max_checkpoints_to_keep, step_counter=self.step)

    def _preprocessing(self, previous_run: Dict[str, Any]) -> preprocess.Preprocessing:
        """Resolves 'auto' choices; per-channel statistics come from the training split
        (or from the run being resumed, so that they never change within a run)."""
        config, info = self.config, self.source.info
        augmentation = config.augmentation
        if augmentation == "auto":
            augmentation = "tutorial" if self.model.image_size else "pad_crop"
        normalization = config.normalization
        if normalization == "auto":
            normalization = "per_image" if augmentation == "tutorial" else "per_channel"
        flip = config.random_flip if config.random_flip is not None else info.name != "mnist"
        mean = std = None
        if normalization == "per_channel":
            stored = previous_run.get("preprocessing") or {}
            if stored.get("channel_mean") and stored.get("channel_std"):
                mean, std = tuple(stored["channel_mean"]), tuple(stored["channel_std"])
            else:
                mean, std = pipeline.channel_stats(self.source)
        return preprocess.Preprocessing(augmentation, self.model.image_size or info.image_shape[0],
                                        normalization, mean, std, flip, translate=config.translate)

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
        config = self.config
        return pipeline.train_dataset(self.source, batch_size, self.preprocessing,
                                      config.num_parallel_calls, config.shuffle_buffer, config.seed,
                                      start_example, num_shards, shard_index)

    def distribute(self, dataset: tf.data.Dataset):
        """An iterator over `dataset`'s global batches, each split across the replicas."""
        return iter(self.strategy.experimental_distribute_dataset(dataset))

    # --- the compiled part -------------------------------------------------

    def _loss(self, images, labels):
        """This replica's share of the loss: its examples' cross-entropy / global batch."""
        logits = self.model(tf.cast(images, self.compute_dtype), training=True)
        cross_entropy = losses.cross_entropy(labels, logits, self.config.label_smoothing)
        data_loss = tf.nn.compute_average_loss(cross_entropy,
                                               global_batch_size=self.config.batch_size)
        decay = tf.nn.scale_regularization_loss(
            variable_groups.weight_decay_loss(self.variables, self.groups.decay_scales))
        return data_loss + decay

    def _gradients(self, images, labels):
        """(loss, float32 gradients) of this replica's share of the loss."""
        with tf.GradientTape() as tape:
            loss = self._loss(images, labels)
            scaled = self.loss_scale.scale(loss) if self.loss_scale is not None else loss
        grads = tape.gradient(scaled, self.variables)
        if self.loss_scale is not None:
            grads = self.loss_scale.unscale(grads)
        return loss, grads

    def _replica_step(self, images, labels):
        """One update; returns (total loss, whether it was finite, whether applied)."""
        loss, grads = self._gradients_fn(images, labels)
        context = tf.distribute.get_replica_context()
        loss, grads = context.all_reduce(tf.distribute.ReduceOp.SUM, (loss, grads))
        loss_finite = tf.math.is_finite(loss)
        grads_finite = tf.math.is_finite(tf.linalg.global_norm(grads))
        applied = context.merge_call(self._apply_update, args=(grads, loss_finite, grads_finite))
        return loss, loss_finite, applied

    def _apply_update(self, strategy, grads, loss_finite, grads_finite):
        """Cross-replica: the loss scale's update, then the step if everything is finite."""
        loss_finite, grads_finite = distribute.first_replica_value(
            strategy, (loss_finite, grads_finite))
        if self.loss_scale is not None:
            self.loss_scale.update(grads_finite)

        def update():
            self.optimizer.apply_gradients(grads, self.variables, self.schedule(self.step),
                                           self.groups.lr_scales, self.groups.train_until_steps)
            self.step.assign_add(1)
            if self.lookahead is not None:
                self.lookahead.apply(self.model.variables, self.step)
            self.ema.apply(self.variables, self.step)
            return tf.constant(True)

        return tf.cond(tf.logical_and(loss_finite, grads_finite), update,
                       lambda: tf.constant(False))

    @tf.function
    def _train_steps(self, iterator, num_steps):
        """Runs `num_steps` batches; with nan_policy 'stop', stops at a non-finite loss.

        Returns (last loss, last loss finite, batches not applied, of which
        after the last applied one, a few images of the last batch).
        """
        stop_on_non_finite = self.config.nan_policy == "stop"
        loss, finite, skipped, images = self._one_step(next(iterator))
        trailing = skipped  # skipped since the last applied step
        for _ in tf.range(num_steps - 1):
            if stop_on_non_finite and not finite:
                break
            loss, finite, more_skipped, images = self._one_step(next(iterator))
            skipped += more_skipped
            trailing = (trailing + 1) * more_skipped
        return loss, finite, skipped, trailing, images

    def _one_step(self, batch):
        """(loss, finite, 1 if not applied else 0, first images) of one global batch."""
        loss, finite, applied = distribute.first_replica_value(
            self.strategy, self.strategy.run(self._replica_step_fn, args=batch))
        images = distribute.first_replica_value(self.strategy, batch[0])[:SUMMARY_IMAGES]
        return loss, finite, tf.cast(tf.logical_not(applied), tf.int64), images

    def run_steps(self, iterator, num_steps: int):
        """Runs `num_steps` batches of `iterator`; returns (loss, finite, batches skipped, images)."""
        loss, finite, skipped, _, images = self._train_steps(
            iterator, tf.constant(num_steps, tf.int64))
        return loss, finite, skipped, images

    # --- the Python loop ---------------------------------------------------

    def restore(self) -> int:
        """Restores the newest checkpoint of train_dir that reads, if any; returns the step.

        Damaged checkpoints are skipped and moved aside (unless `restore_fallback`
        is off); when the one restored is not what the state file names (it is
        missing, unreadable or behind), the chief rewrites the state file.
        """
        train_dir = self.config.train_dir
        checkpointing.check_same_run(train_dir, self.run_config)
        path = checkpointing.restore_latest(self.checkpoint, train_dir,
                                            fallback=self.config.restore_fallback,
                                            move_damaged=self.is_chief)
        if path:
            listed = checkpointing.listed_latest(train_dir)
            if self.is_chief and (listed is None or
                                  os.path.abspath(listed) != os.path.abspath(path)):
                checkpointing.write_state(train_dir, path)
                console.log(f"rewrote {os.path.join(train_dir, checkpointing.STATE_FILE)} to "
                            f"name {os.path.basename(path)} (it named "
                            f"{os.path.basename(listed) if listed else 'nothing'})")
                self.manager = self._make_manager()
            console.log(f"resumed from {path} at step {int(self.step.numpy())}")
        elif checkpointing.read_run_config(train_dir):
            console.log(f"{train_dir} holds no checkpoint yet: starting at step 0")
        return int(self.step.numpy())

    def save(self) -> str:
        """Writes a checkpoint at the current step (every worker must call it).

        Raises:
          DiskFullError: the disk is full; the partial files were removed and the
            previous checkpoint is intact.
        """
        train_dir, step = self.config.train_dir, int(self.step.numpy())
        try:
            path = self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as e:
            if not checkpointing.is_disk_full(e):
                raise
            previous = checkpointing.listed_latest(train_dir)
            checkpointing.remove_failed_save(train_dir, step)
            distribute.remove_write_dir(train_dir, self.strategy)
            needed = (checkpointing.files_bytes(previous) if previous else
                      sum(v.shape.num_elements() * v.dtype.size for v in self.checkpoint_variables))
            raise checkpointing.disk_full_error(f"checkpoint ckpt-{step}", train_dir, needed,
                                                previous) from e
        distribute.remove_write_dir(train_dir, self.strategy)
        return os.path.join(train_dir, os.path.basename(path))

    @property
    def checkpoint_variables(self):
        """The variables a checkpoint holds (model, optimizer, EMA, step)."""
        return (list(self.model.variables) + list(self.optimizer.variables)
                + list(self.ema.variables) + [self.step])

    def train(self) -> int:
        """Trains until `max_steps`; returns the final step.

        Raises:
          NonFiniteLossError: a non-finite loss (nan_policy 'stop'), or too many
            skipped batches in a row ('skip_batch').
          Interrupted: SIGTERM or SIGINT arrived; a checkpoint was saved first.
        """
        config = self.config
        start = self.restore()
        if start >= self.max_steps:
            console.log(f"step {start} >= max_steps={self.max_steps}: nothing to do")
            return start
        if start == 0 and models.has_data_init(self.model):
            self._initialize_from_data()
        if self.is_chief:  # cleaning first frees the space a failed save took
            checkpointing.remove_unfinished_saves(config.train_dir)
            checkpointing.write_run_config(config.train_dir, self.run_config)
        iterator = self.train_iterator(start)
        writer = (tf.summary.create_file_writer(config.train_dir) if self.is_chief
                  else tf.summary.create_noop_writer())
        step, skipped_in_a_row, saved_step = start, 0, start
        warned_divergence = False
        self.clock.start("training")
        from convnet import preemption  # pylint: disable=import-outside-toplevel (it imports this)
        with self._signals_saved(), preemption.watch(self) as cluster_stop:
            while step < self.max_steps:
                if cluster_stop is not None:  # multi_worker: every worker saves and stops at once
                    cluster_stop.check(step, saved_step, writer)
                elif self._stop_signal is not None:
                    path = checkpointing.latest_checkpoint(config.train_dir)
                    if step != saved_step or path is None:
                        path = self.save()
                    writer.close()
                    raise Interrupted(self._stop_signal, step, path)
                num_steps = min(config.log_frequency - step % config.log_frequency,
                                config.save_checkpoint_steps - step % config.save_checkpoint_steps,
                                self.max_steps - step, self._next_epoch_end(step) - step)
                learning_rate = float(self.schedule(step))
                began = time.perf_counter()
                loss, finite, skipped, trailing, images = self._train_steps(
                    iterator, tf.constant(num_steps, tf.int64))
                loss, skipped = float(loss), int(skipped)
                elapsed = time.perf_counter() - began
                done = int(self.step.numpy()) - step
                step = int(self.step.numpy())
                if not bool(finite) and config.nan_policy == "stop":
                    raise NonFiniteLossError(step, loss, float(self.schedule(step)),
                                             checkpointing.latest_checkpoint(config.train_dir))
                if bool(finite) and loss > self.max_loss:
                    diverged = DivergedLossError(step, loss, self.max_loss,
                                                 float(self.schedule(step)),
                                                 checkpointing.latest_checkpoint(config.train_dir))
                    if config.nan_policy == "stop":
                        raise diverged
                    if not warned_divergence:
                        console.log(f"warning: loss is {loss:.4g} at step {step}, above "
                                    f"--max_loss={self.max_loss:g}: training is diverging "
                                    f"(--nan_policy=stop stops here; this warning is not repeated)")
                        warned_divergence = True
                skipped_in_a_row = skipped_in_a_row + skipped if not done else int(trailing)
                if skipped:
                    console.log(f"step {step}: skipped {skipped} batch(es) with a non-finite "
                                f"loss or gradients")
                    if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                        raise NonFiniteLossError(step, loss, float(self.schedule(step)),
                                                 checkpointing.latest_checkpoint(config.train_dir))
                if done and (step % config.log_frequency == 0 or step == self.max_steps):
                    examples_per_sec = done * config.batch_size / elapsed
                    console.log(f"step {step}, loss = {loss:.2f} ({examples_per_sec:.1f} "
                                f"examples/sec; {elapsed / done:.3f} sec/batch)")
                    with writer.as_default(step=step):
                        tf.summary.scalar("loss", loss)
                        tf.summary.scalar("learning_rate", learning_rate)
                        tf.summary.scalar("examples_per_sec", examples_per_sec)
                        if self.loss_scale is not None:
                            tf.summary.scalar("loss_scale", float(self.loss_scale.value.numpy()))
                if step == self.max_steps and self.lookahead is not None:
                    self.lookahead.finish(self.model.variables)
                if done and (step % config.save_checkpoint_steps == 0 or step == self.max_steps):
                    path = self.save()
                    saved_step = step
                    with writer.as_default(step=step):
                        tf.summary.image("images", _displayable(images),
                                         max_outputs=SUMMARY_IMAGES)
                    writer.flush()
                    console.log(f"saved checkpoint {path}")
                if config.eval_every_epoch and done and step == self._next_epoch_end(step - 1):
                    self._evaluate_epoch(step)
        if config.eval_at_end:
            self.clock.start("evaluation")
            precision, correct, count = self.evaluate(config.tta)
            self.clock.start(None)
            console.log(f"precision @ 1 = {precision:.3f} ({correct} of {count} test examples; "
                        f"step {step}, raw weights, {config.tta} TTA)")
            console.log(f"time to accuracy {self.clock.summary()} (from process start; "
                        f"evaluations after each epoch not counted)")
            with self._eval_writer().as_default(step=step):
                tf.summary.scalar(f"{config.tta}_tta_precision_at_1", precision)
            self._eval_writer().flush()
        writer.close()
        return step

    # --- the time-to-accuracy pieces ------------------------------------------

    def _initialize_from_data(self) -> None:
        """Runs the model's data-dependent initialisation (convnet.models) on the first
        `init_examples` training images, preprocessed as for evaluation; once, at step 0."""
        count = min(self.model.init_examples, self.source.num_examples("train") or
                    self.model.init_examples)
        images, _ = next(iter(pipeline.eval_dataset(
            self.source, "train", count, self.preprocessing, self.config.num_parallel_calls,
            count)))
        with self.strategy.scope():
            self.model.initialize_from_data(images)
        console.log(f"initialised {self.config.model} from the first {count} training images")

    def _next_epoch_end(self, step: int) -> int:
        """The first step after `step` that ends an epoch (ceil(k x steps a epoch)), or
        max_steps when evaluations after each epoch are off."""
        if not self.config.eval_every_epoch:
            return self.max_steps
        epoch = int(step // self.steps_per_epoch) + 1
        while math.ceil(epoch * self.steps_per_epoch) <= step:
            epoch += 1
        return math.ceil(epoch * self.steps_per_epoch)

    def evaluate(self, tta_mode: str = "none", batch_size: int = 500):
        """(precision @ 1, correct, examples) of the model's weights (not the EMA) on the
        test split, with test-time augmentation `tta_mode`."""
        dataset = pipeline.eval_dataset(self.source, "test", batch_size, self.preprocessing,
                                        self.config.num_parallel_calls)
        correct, _, counts, _ = evaluation.count_correct(
            self.model, dataset, self.source.info.num_classes, 1, self.strategy,
            compute_dtype=self.compute_dtype, num_examples=self.source.num_examples("test"),
            tta=tta_mode)
        count = int(counts.sum())
        return correct / max(count, 1), correct, count

    def _evaluate_epoch(self, step: int) -> None:
        """Evaluates after an epoch, outside the timed part; logs and writes a summary."""
        running = self.clock.running
        self.clock.start(None)
        precision, correct, count = self.evaluate()
        epoch = round(step / self.steps_per_epoch)
        console.log(f"epoch {epoch} (step {step}): precision @ 1 = {precision:.4f} ({correct} of "
                    f"{count} test examples)")
        with self._eval_writer().as_default(step=step):
            tf.summary.scalar("precision_at_1", precision)
        self._eval_writer().flush()
        self.clock.start(running)

    def _eval_writer(self):
        """The summary writer of the evaluations in training: train_dir/eval, as convnet.eval's
        --eval_dir (TensorBoard and convnet.report show it beside the training curves)."""
        if getattr(self, "_eval_summaries", None) is None:
            self._eval_summaries = (
                tf.summary.create_file_writer(os.path.join(self.config.train_dir, "eval"))
                if self.is_chief else tf.summary.create_noop_writer())
        return self._eval_summaries

    @contextlib.contextmanager
    def _signals_saved(self):
        """While training, SIGTERM/SIGINT ask the loop to save and stop, acknowledged at once
        even mid-round; a second SIGINT exits at once with 130 (convnet.interrupts)."""

        def request_stop(signum):
            self._stop_signal = signum

        def last_checkpoint():
            return checkpointing.latest_checkpoint(self.config.train_dir)

        with interrupts.stop_on_signals(request_stop, last_checkpoint):
            yield


def _displayable(images: tf.Tensor) -> tf.Tensor:
    """Rescales standardized images to [0, 1] per image for TensorBoard."""
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)


def train(config: TrainConfig) -> int:
    """Builds a Trainer and trains; returns the final step."""
    paths.ensure_writable_dir(config.train_dir, "--train_dir")
    return Trainer(config).train()
