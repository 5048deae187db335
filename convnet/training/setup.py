"""What a training run computes with: data, state and the compiled step, from a `TrainConfig`.

`TrainingSetup(config)` writes nothing and reads no train_dir: the Trainer
(convnet.training) adds checkpoints, the run record and the loop, and
`convnet.bench` times its `train_step` directly. The state (convnet.checkpoints.state) is
created in `strategy.scope()`; `train_step` (convnet.training.step) runs several
updates in one `tf.function` call.
"""

import dataclasses
import math

import tensorflow as tf
from tensorflow.python.framework import config as _tf_config  # op determinism's off switch

from convnet import models
from convnet.checkpoints import state as state_lib
from convnet.data import pipeline, preprocess, progressive_resizing
from convnet.data.sources import held_out
from convnet.data.sources.base import Source
from convnet.data.sources.spec import make_source
from convnet.optim import schedules, variable_groups
from convnet.optim.config import AUTO
from convnet.runtime import console, distribute, onednn, precision, timing
from convnet.training import memory
from convnet.training import step as train_step
from convnet.training.config import TrainConfig


def _op_determinism_enabled() -> bool:
    return _tf_config.is_op_determinism_enabled()


class TrainingSetup:
    """The source, preprocessing, state, schedule and step of a `TrainConfig`.

    `strategy` overrides `config.compute.strategy` with a ready `tf.distribute.Strategy`;
    `previous` is a resumed run's preprocessing (its channel statistics are kept); `source`
    (your own data, any `convnet.data.Source`) replaces the config's data settings.
    `time_scale` multiplies every step and epoch count of the settings (--max_steps, --epochs,
    the schedule's, lookahead's, variable groups' and progressive resizing's epochs:
    convnet.training.time_budget; --epoch_budget sets it here); `clock` is the run's
    `timing.Phases` (default: a new one). `self.config` is `config` with `--optimizer=auto`
    resolved for the model (`OptimConfig.for_model`).
    """

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None,
                 previous: preprocess.Preprocessing | None = None,
                 *, source: Source | None = None, time_scale: float = 1.0,
                 clock: timing.Phases | None = None):
        config.validate()
        self.config = config
        self._determinism_was = None
        if config.deterministic and not _op_determinism_enabled():
            tf.config.experimental.enable_op_determinism()
            self._determinism_was = False
        tf.random.set_seed(config.seed)
        compute = config.compute
        self.strategy = strategy or distribute.make_strategy(compute.strategy, compute.tpu)
        replicas = self.strategy.num_replicas_in_sync
        if config.data.batch_size % replicas:
            raise ValueError(f"--batch_size={config.data.batch_size} (the global batch) must be "
                             f"a multiple of the {replicas} replicas of "
                             f"--strategy={compute.strategy}")
        self.compute_dtype = precision.compute_dtype(config.compute.precision)
        if config.compute.precision == "auto":
            console.log(precision.this_machine().line)
        if line := onednn.off_line(onednn.enabled()):
            console.log(line)
        self.clock = clock or timing.Phases()
        self.clock.start("data")
        self.source = source or make_source(config.data.source_spec(seed=config.seed))
        if config.validation_examples:  # training never sees them (convnet.data.sources.held_out)
            self.source = held_out.HeldOutSource(self.source, config.validation_examples)
        info = self.source.info
        self.epochs = schedules.Epochs(self.source.num_examples("train")
                                       or schedules.NUM_EXAMPLES_PER_EPOCH, config.data.batch_size)
        # The schedule spans --epochs when given; --max_steps may stop the run earlier (or later).
        unscaled = config.schedule_steps(self.epochs)
        if config.epoch_budget:  # the run's steps become the budget's
            time_scale = (max(1, round(self.epochs.to_steps(config.epoch_budget)))
                          / (config.max_steps or unscaled))
        # The settings' epochs, stretched by time_scale (the data's epochs are self.epochs).
        self.schedule_epochs = dataclasses.replace(self.epochs, scale=time_scale)
        self.schedule_steps = max(1, round(unscaled * time_scale))
        self.max_steps = max(1, round((config.max_steps or unscaled) * time_scale))
        with self.strategy.scope():
            model = models.build_model(config.model, info.num_classes,
                                       config.resolved_weight_decay)
            if config.optim.optimizer == AUTO:
                config = self.config = dataclasses.replace(
                    config, optim=config.optim.for_model(model))
                why = (f"{type(model).__name__}.preferred_optimizer" if model.preferred_optimizer
                       else f"{type(model).__name__} names no preferred_optimizer")
                console.log(f"--optimizer=auto: {config.optim.optimizer} ({why})")
            self.preprocessing = config.augment.preprocessing(
                model.image_size, info, lambda: pipeline.channel_stats(self.source),
                previous=previous)
            split_bytes = self.source.num_examples("train") * math.prod(info.image_shape)
            cache, line = config.data.holds_in_memory(split_bytes, memory.available_bytes())
            if line:
                console.log(line)
            self.input_settings = pipeline.InputSettings(
                self.preprocessing, config.data.num_parallel_calls,
                config.augment.shuffle_buffer, config.seed, cache)
            self.clock.start("initialisation")
            size = self.preprocessing.image_size
            self.input_shape = [size, size, info.image_shape[-1]]
            self.state = state_lib.build(
                model, self.input_shape, config.optim.moving_average_decay,
                optimizer=config.optim.make_optimizer(),
                lookahead=config.optim.make_lookahead(self.schedule_steps, self.schedule_epochs),
                loss_scale=(precision.DynamicLossScale() if self.compute_dtype == tf.float16
                            else None))
            memory.check_train_batch(config.data.batch_size, model, self.input_shape,
                                     train_examples=self.source.num_examples("train"),
                                     dataset=info.name,
                                     compute_dtype=self.compute_dtype)
        self.schedule = config.optim.make_schedule(self.schedule_epochs, self.schedule_steps)
        self.groups = self._variable_groups()
        self.image_sizes = self._image_sizes()
        self.train_step = train_step.TrainStep(
            self.state, self.schedule, batch_size=config.data.batch_size, strategy=self.strategy,
            groups=self.groups,
            label_smoothing=config.optim.label_smoothing, compute_dtype=self.compute_dtype,
            stop_on_non_finite=config.nan_policy == "stop", xla=config.compute.xla,
            keep_batch=config.histogram_frequency > 0, image_sizes=self.image_sizes)

    @property
    def steps_per_epoch(self) -> float:
        """Steps an epoch of this run's training split (`self.epochs`)."""
        return self.epochs.steps_per_epoch

    def close(self) -> None:
        """Turns TensorFlow's op determinism off again if this setup turned it on (it is a
        setting of the whole process: later work should not pay for it unasked)."""
        if self._determinism_was is False:
            _tf_config.disable_op_determinism()
            self._determinism_was = None

    def _variable_groups(self) -> variable_groups.Assignment:
        """--variable_groups resolved over the trainable variables (a typo is an error)."""
        groups = variable_groups.parse(self.config.optim.variable_groups)
        trainable = self.state.model.trainable_variables
        unmatched = variable_groups.unmatched(groups, trainable)
        if unmatched:
            raise ValueError(f"--variable_groups: {', '.join(map(repr, unmatched))} matches no "
                             f"trainable variable of --model={self.config.model} (its names: "
                             f"{', '.join(v.name for v in trainable)})")
        return variable_groups.assign(groups, trainable, self.schedule_epochs)

    def _image_sizes(self) -> tuple[tuple[int, int], ...]:
        """--progressive_resizing as ((size, end step), ...), each size checked on the model."""
        stages = progressive_resizing.parse(self.config.augment.progressive_resizing)
        channels = self.input_shape[-1]
        for stage in stages:
            try:  # one example through the built model: a size it cannot take fails here
                self.state.model(tf.zeros([1, stage.size, stage.size, channels],
                                          self.compute_dtype), training=False)
            except (ValueError, tf.errors.OpError) as e:  # oneDNN's pooling: AbortedError
                first_line = (str(e).strip() or type(e).__name__).splitlines()[0][:160]
                raise ValueError(
                    f"--progressive_resizing={self.config.augment.progressive_resizing}: "
                    f"--model={self.config.model} cannot take {stage.size}x{stage.size} inputs "
                    f"({first_line}); choose sizes it accepts (its full size is "
                    f"{self.input_shape[0]})") from None
        return progressive_resizing.stage_ends(stages, self.schedule_epochs.steps_per_epoch)

    def train_iterator(self, start_step: int = 0):
        """An iterator of per-replica training batches continuing after `start_step` steps.

        Each input pipeline (one a worker) reads its own shard of the split, in
        batches of the per-replica size.
        """
        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            pipelines = context.num_input_pipelines
            return self.train_dataset(
                context.get_per_replica_batch_size(self.config.data.batch_size),
                start_example=start_step * self.config.data.batch_size // pipelines,
                num_shards=pipelines, shard_index=context.input_pipeline_id)

        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def train_dataset(self, batch_size: int, start_example: int = 0, num_shards: int = 1,
                      *, shard_index: int = 0) -> tf.data.Dataset:
        """This run's training pipeline (`pipeline.train_dataset`) in batches of `batch_size`."""
        return pipeline.train_dataset(self.source, batch_size, self.input_settings,
                                      start_example=start_example, num_shards=num_shards,
                                      shard_index=shard_index)

    def distribute(self, dataset: tf.data.Dataset):
        """An iterator over `dataset`'s global batches, each split across the replicas."""
        return iter(self.strategy.experimental_distribute_dataset(dataset))

    def run_steps(self, iterator, num_steps: int):
        """Runs `num_steps` batches of `iterator`; returns the step's `StepResult`."""
        return self.train_step(iterator, tf.constant(num_steps, tf.int64))

    def initialize_from_data(self) -> None:
        """Runs the model's data-dependent initialisation (convnet.models) on the first
        `init_examples` training images, preprocessed as for evaluation."""
        model = self.state.model
        count = min(model.init_examples, self.source.num_examples("train") or
                    model.init_examples)
        images, _ = next(iter(pipeline.eval_dataset(self.source, "train", count,
                                                     settings=self.input_settings,
                                                     num_examples=count)))
        with self.strategy.scope():
            model.initialize_from_data(images)
        console.log(f"initialised {self.config.model} from the first {count} training images")
