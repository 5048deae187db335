"""The Trainer: a custom `tf.function` training loop with checkpoints and summaries.

Loss = mean sparse softmax cross-entropy + sum(wd * l2_loss(w)) over decayed
weights. Several steps run inside one `tf.function` call (up to the next log
or checkpoint step), so Python is not in the per-step loop. A step whose loss
or gradients are not finite is not applied: training stops with
`NonFiniteLossError`, and the last checkpoint is left as it was.

Checkpoints (`tf.train.Checkpoint` + `CheckpointManager`) hold the model, the
optimizer, the weight EMA and the step; a rerun with the same train_dir resumes
from the latest one. Nothing here deletes train_dir.
"""

import dataclasses
import math
import os
import time
from typing import Any, Dict, Optional, Sequence

import tensorflow as tf

from convnet import checkpointing, console, models, ops, optim
from convnet.data import pipeline, preprocess
from convnet.errors import NonFiniteLossError

# Step budget when neither --max_steps nor --epochs is given (the tutorial's).
DEFAULT_MAX_STEPS = 1000000
# Images written to TensorBoard at each checkpoint.
SUMMARY_IMAGES = 3


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
    optimizer: str = "sgd"
    learning_rate: Optional[float] = None  # None: optim.default_learning_rate(optimizer)
    momentum: float = 0.0
    nesterov: bool = False
    lr_decay: bool = False  # shorthand for lr_schedule='exponential'
    lr_schedule: str = "constant"
    lr_boundary_epochs: Sequence[float] = ()
    lr_decay_factor: float = optim.LEARNING_RATE_DECAY_FACTOR
    num_epochs_per_decay: float = optim.NUM_EPOCHS_PER_DECAY
    moving_average_decay: float = optim.MOVING_AVERAGE_DECAY
    num_parallel_calls: int = 16
    shuffle_buffer: int = pipeline.SHUFFLE_BUFFER
    log_frequency: int = 10
    save_checkpoint_steps: int = 1000
    max_checkpoints_to_keep: int = 5
    seed: int = 0

    def __post_init__(self):
        self.dataset = self.dataset or "cifar10"
        self.lr_boundary_epochs = tuple(float(e) for e in self.lr_boundary_epochs)

    def validate(self) -> None:
        for name in ("max_steps", "batch_size", "log_frequency", "save_checkpoint_steps",
                     "max_checkpoints_to_keep"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"--epochs must be positive, got {self.epochs}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
        if self.num_parallel_calls <= 0 and self.num_parallel_calls != tf.data.AUTOTUNE:
            raise ValueError(f"--num_parallel_calls must be positive or -1 (autotune), "
                             f"got {self.num_parallel_calls}")
        if not self.train_dir:
            raise ValueError("--train_dir must not be empty")

    @property
    def schedule_name(self) -> str:
        return "exponential" if self.lr_decay else self.lr_schedule

    @property
    def resolved_learning_rate(self) -> float:
        if self.learning_rate is None:
            return optim.default_learning_rate(self.optimizer)
        return self.learning_rate


class Trainer:
    """Builds data, model, optimizer, EMA and checkpoint from a `TrainConfig`."""

    def __init__(self, config: TrainConfig):
        config.validate()
        self.config = config
        tf.random.set_seed(config.seed)
        self.source = pipeline.make_source(config.data_source, config.data_dir,
                                           config.tfds_data_dir, config.download,
                                           config.dataset, config.seed, label_mode=config.label_mode)
        info = self.source.info
        self.model = models.build_model(config.model, info.num_classes, config.weight_decay)
        examples_per_epoch = self.source.num_examples("train") or optim.NUM_EXAMPLES_PER_EPOCH
        # The schedule spans --epochs when given; --max_steps may stop the run earlier (or later).
        schedule_steps = DEFAULT_MAX_STEPS
        if config.epochs:
            schedule_steps = max(1, math.ceil(config.epochs * examples_per_epoch / config.batch_size))
        self.max_steps = config.max_steps or schedule_steps
        self.preprocessing = self._preprocessing(
            checkpointing.read_run_config(config.train_dir) or {})
        size = self.preprocessing.image_size
        self.model(tf.zeros([1, size, size, info.image_shape[-1]]))
        self.variables = self.model.trainable_variables
        self.optimizer = optim.make_optimizer(config.optimizer, config.momentum, config.nesterov)
        self.optimizer.build(self.variables)
        self.ema = optim.WeightEMA(config.moving_average_decay)
        self.ema.build(self.variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.schedule = optim.make_schedule(
            config.schedule_name, config.resolved_learning_rate, config.batch_size,
            config.num_epochs_per_decay, config.lr_decay_factor, examples_per_epoch,
            config.lr_boundary_epochs, schedule_steps if config.epochs else self.max_steps)
        self.checkpoint = tf.train.Checkpoint(step=self.step, model=self.model,
                                              optimizer=self.optimizer, ema=self.ema)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, config.train_dir, max_to_keep=config.max_checkpoints_to_keep,
            step_counter=self.step)
        self.run_config = {"model": config.model, "dataset": info.name,
                           "num_classes": info.num_classes, "image_size": size,
                           "image_channels": info.image_shape[-1], "max_steps": self.max_steps,
                           "optimizer": config.optimizer, "data_source": config.data_source,
                           "preprocessing": dataclasses.asdict(self.preprocessing)}

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
                                        normalization, mean, std, flip)

    # --- the compiled part -------------------------------------------------

    def _loss(self, images, labels):
        logits = self.model(images, training=True)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=tf.cast(logits, tf.float32))
        data_loss = tf.nn.compute_average_loss(cross_entropy,
                                               global_batch_size=self.config.batch_size)
        decay = tf.nn.scale_regularization_loss(ops.weight_decay_loss(self.variables))
        return data_loss + decay

    def _step(self, images, labels):
        """One update; returns (loss, whether it was finite and applied)."""
        with tf.GradientTape() as tape:
            loss = self._loss(images, labels)
        grads = tape.gradient(loss, self.variables)
        finite = tf.logical_and(tf.math.is_finite(loss),
                                tf.math.is_finite(tf.linalg.global_norm(grads)))
        if finite:
            self.optimizer.apply_gradients(grads, self.variables, self.schedule(self.step))
            self.step.assign_add(1)
            self.ema.apply(self.variables, self.step)
        return loss, finite

    @tf.function
    def _train_steps(self, iterator, num_steps):
        """Runs up to `num_steps` steps; stops early at a non-finite one.

        Returns (last loss, all finite, a few images of the last batch).
        """
        images, labels = next(iterator)
        loss, finite = self._step(images, labels)
        for _ in tf.range(num_steps - 1):
            if not finite:
                break
            images, labels = next(iterator)
            loss, finite = self._step(images, labels)
        return loss, finite, images[:SUMMARY_IMAGES]

    # --- the Python loop ---------------------------------------------------

    def restore(self) -> int:
        """Restores the latest checkpoint of train_dir, if any; returns the step."""
        checkpointing.check_same_run(self.config.train_dir, self.run_config)
        path = self.manager.latest_checkpoint
        if path:
            checkpointing.restore(self.checkpoint, path)
            console.log(f"resumed from {path} at step {int(self.step)}")
        return int(self.step)

    def train(self) -> int:
        """Trains until `max_steps`; returns the final step."""
        config = self.config
        start = self.restore()
        if start >= self.max_steps:
            console.log(f"step {start} >= max_steps={self.max_steps}: nothing to do")
            return start
        checkpointing.write_run_config(config.train_dir, self.run_config)
        dataset = pipeline.train_dataset(self.source, config.batch_size, self.preprocessing,
                                         config.num_parallel_calls, config.shuffle_buffer,
                                         config.seed + start)
        iterator = iter(dataset)
        writer = tf.summary.create_file_writer(config.train_dir)
        step = start
        while step < self.max_steps:
            num_steps = min(config.log_frequency - step % config.log_frequency,
                            config.save_checkpoint_steps - step % config.save_checkpoint_steps,
                            self.max_steps - step)
            learning_rate = float(self.schedule(step))
            began = time.perf_counter()
            loss, finite, images = self._train_steps(iterator, tf.constant(num_steps, tf.int64))
            loss = float(loss)
            elapsed = time.perf_counter() - began
            done = int(self.step) - step
            step = int(self.step)
            if not bool(finite):
                raise NonFiniteLossError(step, loss, float(self.schedule(step)),
                                         self.manager.latest_checkpoint)
            if step % config.log_frequency == 0 or step == self.max_steps:
                examples_per_sec = done * config.batch_size / elapsed
                console.log(f"step {step}, loss = {loss:.2f} ({examples_per_sec:.1f} examples/sec; "
                     f"{elapsed / done:.3f} sec/batch)")
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", loss)
                    tf.summary.scalar("learning_rate", learning_rate)
                    tf.summary.scalar("examples_per_sec", examples_per_sec)
            if step % config.save_checkpoint_steps == 0 or step == self.max_steps:
                path = self.manager.save(checkpoint_number=step)
                with writer.as_default(step=step):
                    tf.summary.image("images", _displayable(images), max_outputs=SUMMARY_IMAGES)
                writer.flush()
                console.log(f"saved checkpoint {path}")
        writer.close()
        return step


def _displayable(images: tf.Tensor) -> tf.Tensor:
    """Rescales standardized images to [0, 1] per image for TensorBoard."""
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)


def train(config: TrainConfig) -> int:
    """Builds a Trainer and trains; returns the final step."""
    os.makedirs(config.train_dir, exist_ok=True)
    return Trainer(config).train()
