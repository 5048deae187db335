"""The settings of a training run: `TrainConfig`, with its defaults and its validation.

The flags of `convnet.train` (convnet.flags) map one to one onto its fields;
tests and library users build it directly. `validate` runs no TensorFlow op
(a multi-worker strategy must be created before the first one).
"""

import dataclasses
import math
from typing import Callable, Optional, Sequence, Tuple


from convnet import distribute, ema, lookahead, losses, optim, precision, schedules, tta
from convnet.data import pipeline, preprocess
from convnet.data.info import DatasetInfo
from convnet.loss_watch import NAN_POLICIES

# Step budget when neither --max_steps nor --epochs is given (the tutorial's).
DEFAULT_MAX_STEPS = 1000000
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
    lr_decay_factor: float = schedules.LEARNING_RATE_DECAY_FACTOR
    lr_warmup_fraction: float = schedules.WARMUP_FRACTION  # warmup_linear only
    lr_start_factor: float = schedules.WARMUP_START_FACTOR
    lr_end_factor: float = schedules.END_FACTOR
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
    num_epochs_per_decay: float = schedules.NUM_EPOCHS_PER_DECAY
    moving_average_decay: float = ema.MOVING_AVERAGE_DECAY
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
        pipeline.InputSettings(num_parallel_calls=self.num_parallel_calls)  # checks it
        self.source_spec()  # checks the data settings
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

    def source_spec(self) -> pipeline.SourceSpec:
        """The data settings (validated when made: an unknown source or dataset fails)."""
        return pipeline.SourceSpec(self.data_source, self.data_dir, self.tfds_data_dir,
                                   self.download, self.dataset, self.label_mode, self.seed)

    def max_loss_for(self, num_classes: int) -> float:
        """--max_loss, or DIVERGENCE_FACTOR x ln(num_classes) when not given."""
        return self.max_loss or DIVERGENCE_FACTOR * math.log(max(num_classes, 2))

    def schedule_steps(self, examples_per_epoch: int) -> int:
        """The schedule's horizon in steps: --epochs when given, else the step budget."""
        if self.epochs:
            return max(1, math.ceil(self.epochs * examples_per_epoch / self.batch_size))
        return self.max_steps or DEFAULT_MAX_STEPS

    def make_lookahead(self, schedule_steps: int, steps_per_epoch: float):
        """The `lookahead.Lookahead` of --lookahead_every (None when 0), started at
        --lookahead_start_epoch (rounded up to a step)."""
        if not self.lookahead_every:
            return None
        return lookahead.Lookahead(schedule_steps, self.lookahead_every, self.lookahead_base,
                                   self.lookahead_power,
                                   math.ceil(self.lookahead_start_epoch * steps_per_epoch))

    def preprocessing(self, model_image_size: Optional[int], info: DatasetInfo,
                      channel_stats: Callable[[], Tuple[Sequence[float], Sequence[float]]],
                      previous: Optional[preprocess.Preprocessing] = None
                      ) -> preprocess.Preprocessing:
        """The run's preprocessing with the 'auto' choices resolved. Per-channel statistics
        are `previous`'s (a resumed run's: they never change within a run) or, computed
        only then, `channel_stats()`'s (the training split's)."""
        augmentation = self.augmentation
        if augmentation == "auto":
            augmentation = "tutorial" if model_image_size else "pad_crop"
        normalization = self.normalization
        if normalization == "auto":
            normalization = "per_image" if augmentation == "tutorial" else "per_channel"
        flip = self.random_flip if self.random_flip is not None else info.name != "mnist"
        mean = std = None
        if normalization == "per_channel":
            if previous and previous.channel_mean and previous.channel_std:
                mean, std = previous.channel_mean, previous.channel_std
            else:
                mean, std = channel_stats()
        return preprocess.Preprocessing(augmentation, model_image_size or info.image_shape[0],
                                        normalization, mean, std, flip, translate=self.translate)
