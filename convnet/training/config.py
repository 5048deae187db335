"""The settings of a training run: `TrainConfig`, the run's own settings and the config of
each layer it spans, nested by concern (`config.data`, `config.augment`, `config.optim`,
`config.compute`).

Each config owns its settings' defaults, help text, choices and bounds
(convnet.runtime.options), and their validation; the flags of `convnet.train`
are derived from them (`options.define_flags(TrainConfig)`) and stay flat
(`--momentum` is `config.optim.momentum`). In code, nested:
`TrainConfig(model="resnet20", optim=OptimConfig(momentum=0.9))`, or flat, as
the flags and `convnet.fit` name them: `TrainConfig.from_settings(batch_size=256,
momentum=0.9)`; `config.settings()` gives the flat settings (run.json keeps them).
`validate` runs no TensorFlow op (a multi-worker strategy must be created before
the first one).
"""

import dataclasses
import math

from absl import flags

from convnet import models, recipes
from convnet.checkpoints.restore import fallback_option
from convnet.data.config import AugmentConfig, DataConfig
from convnet.data.info import DEFAULT_DATASET, DEFAULT_LABEL_MODE
from convnet.evaluation.tta import tta_mode_option
from convnet.optim.config import OptimConfig
from convnet.optim.schedules import Epochs
from convnet.runtime import console, options, precision
from convnet.runtime.compute import ComputeConfig
from convnet.runtime.options import check, option
from convnet.training import time_budget
from convnet.training.loss_watch import MAX_SKIPPED_IN_A_ROW, NAN_POLICIES

# Step budget when neither --max_steps nor --epochs is given (the tutorial's).
DEFAULT_MAX_STEPS = 1000000
# Default --max_loss: this many times ln(num_classes), the loss of a uniform guess that every
# run starts near. (Not the first logged loss: a diverging run's is already absurd.)
DIVERGENCE_FACTOR = 1e4


@dataclasses.dataclass
class TrainConfig(options.FlatSettings):
    """Everything a training run needs: the run's own settings (its directory, model, length,
    checkpoints and evaluations; the fields below) and the config of each layer."""
    train_dir: str = option(
        "/tmp/cifar10_train", "Directory for checkpoints, run.json and TensorBoard events. A "
        "rerun with the same directory resumes from its latest checkpoint; nothing deletes it.")
    model: str = option("cifar10", models.model_help("Model to train"))
    max_steps: int | None = option(
        None, "Number of batches to train on, in total, counting steps of earlier runs in "
        "--train_dir (default: --epochs worth, else 1,000,000). With --epochs, stops the run "
        "early while the learning-rate schedule keeps the --epochs horizon.", lower_bound=1)
    epochs: float | None = option(
        None, "Epochs of the training split the run and its learning-rate schedule span (see "
        "--max_steps).", lower_bound=0)
    time_budget: str = option(
        "", "Wall-time budget of the training, e.g. 15m, 90s or 1.5h: the run times its first "
        "steps, then scales every step and epoch count of its settings by one factor so that "
        "training ends within the budget (convnet.training.time_budget). Counted from process "
        "start, the final evaluation left out; the horizon is kept in train_dir/horizon.json "
        "and a resume keeps it (default: off).")
    epoch_budget: float | None = option(
        None, "Train this many epochs in the settings' shape: every step and epoch count of "
        "the settings (--max_steps, --epochs, the schedule's, lookahead's, variable groups' "
        "and progressive resizing's epochs) scaled by one factor, N / (the epochs the run "
        "takes without it); e.g. a 200-epoch cosine recipe in 30 (default: off).",
        lower_bound=0)
    seed: int = option(0, "Seed for initialization, shuffling and augmentation.")
    deterministic: bool = option(
        False, "Turn on TensorFlow's op determinism: the same --seed gives the same losses and "
        "weights, also across an interrupted and resumed run (slower on GPU).")
    log_frequency: int = option(10, "Steps between log lines and summaries.", lower_bound=1)
    save_checkpoint_steps: int = option(1000, "Steps between checkpoints.", lower_bound=1)
    max_checkpoints_to_keep: int = option(5, "Checkpoints kept in --train_dir.", lower_bound=1)
    restore_fallback: bool = fallback_option()
    nan_policy: str = option(
        "stop", f"On a non-finite loss or gradient: stop (keep the last checkpoint, exit "
        f"non-zero) or skip_batch (skip the update; stop after {MAX_SKIPPED_IN_A_ROW} in a "
        f"row).", choices=NAN_POLICIES)
    max_loss: float | None = option(
        None, f"A finite loss above this means the run diverged: a warning, and with "
        f"--nan_policy=stop a stop that keeps the last checkpoint (default: "
        f"{DIVERGENCE_FACTOR:g} x ln(number of classes), that many times the loss of a "
        f"uniform guess).")
    eval_at_end: bool = option(
        False, "At the end, evaluate the test split (with --tta) and print precision @ 1 with "
        "the wall time from process start split into start-up, data, initialisation, "
        "training and evaluation: time to accuracy.")
    eval_every_epoch: bool = option(
        False, "Evaluate the test split after each epoch (not counted in the time to "
        "accuracy) and write it to TensorBoard (train_dir/eval, precision_at_1).")
    tta: str = tta_mode_option()
    histogram_frequency: int = option(
        0, "Steps between TensorBoard histograms of every trainable variable and its gradient "
        "and the activation sparsity of each layer, on that step's batch (0: off).",
        lower_bound=0)
    profile_steps: str = option(
        "", "START,END: trace steps START+1..END (one a call, each with a step marker) with "
        "the TensorFlow profiler into train_dir/plugins/profile (TensorBoard's profile "
        "tab; default: off).")
    eval_every_steps: int = option(
        0, "Evaluate every N steps in the training process, on the test split or the "
        "--validation_examples held out, into train_dir/eval (0: off).", lower_bound=0)
    validation_examples: int = option(
        0, "Hold out the last K examples of the training split from training and evaluate "
        "--eval_every_steps on them instead of the test split (0: off).", lower_bound=0)
    # The layers' configs: their flags are flat (--batch_size is data.batch_size).
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)

    def __post_init__(self):
        if isinstance(self.data, DataConfig) and not (self.data.dataset
                                                      and self.data.label_mode):
            self.data = dataclasses.replace(
                self.data, dataset=self.data.dataset or DEFAULT_DATASET,
                label_mode=self.data.label_mode or DEFAULT_LABEL_MODE)

    @property
    def profile_range(self) -> tuple[int, int] | None:
        """--profile_steps as (START, END), or None when off."""
        if not self.profile_steps:
            return None
        start, end = (int(v) for v in self.profile_steps.split(","))
        return start, end

    def validate(self) -> None:
        """Each layer's checks (its choices, bounds and rules), then the run's."""
        check(self)
        for layer in (self.compute, self.data, self.augment, self.optim):
            layer.validate()
        models.check_name(self.model)
        if self.profile_steps:
            try:
                start, end = self.profile_range
            except (TypeError, ValueError):
                raise ValueError(f"--profile_steps must be START,END (two integers), got "
                                 f"{self.profile_steps!r}") from None
            if not 0 <= start < end:
                raise ValueError(f"--profile_steps=START,END needs 0 <= START < END, got "
                                 f"{start},{end}")
        if self.validation_examples and not self.eval_every_steps:
            raise ValueError("--validation_examples needs --eval_every_steps (it holds out "
                             "examples for those evaluations)")
        if self.time_budget and self.epoch_budget is not None:
            raise ValueError("--time_budget and --epoch_budget are two budgets: give one")
        for name in ("max_loss", "epochs", "epoch_budget"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if not self.train_dir:
            raise ValueError("--train_dir must not be empty")
        if self.time_budget:
            time_budget.parse_duration(self.time_budget)
        if self.time_budget and self.compute.strategy in ("multi_worker", "tpu"):
            raise ValueError(f"--time_budget times the steps on one process's clock: not with "
                             f"--strategy={self.compute.strategy} (give --epochs or "
                             f"--max_steps)")

    def max_loss_for(self, num_classes: int) -> float:
        """--max_loss, or DIVERGENCE_FACTOR x ln(num_classes) when not given."""
        return self.max_loss or DIVERGENCE_FACTOR * math.log(max(num_classes, 2))

    @classmethod
    def from_recipe(cls, name: str, **overrides) -> "TrainConfig":
        """The settings of the shipped recipe `name` (`--recipe=NAME`), then `overrides` (fields
        by name), as the command line builds them: the recipe's flag file, then its
        `NAME.PRECISION.flags` when the run computes in that precision (`precision` of the
        overrides, else the recipe's; `auto` resolved for this machine), then the overrides.

        Raises ValueError for an unknown recipe (naming the shipped ones) or setting.
        """
        options.build(cls, **overrides)  # names an unknown setting before any work
        values = flags.FlagValues()
        options.define_flags(cls, values)
        files = ["--flagfile=" + recipes.path(name)]
        values(["recipe", *files])
        chosen = overrides.get("precision") or values["precision"].value
        resolved = precision.resolve(chosen) if chosen in precision.PRECISIONS else None
        extra = recipes.precision_path(name, resolved) if resolved else None
        if extra:
            values(["recipe", *files, "--flagfile=" + extra])
            console.log(recipes.precision_file_line("--flagfile=" + extra))
        return options.replace(options.from_flags(cls, values), **overrides)

    @property
    def resolved_learning_rate(self) -> float:
        """The learning rate of the mean loss at this batch size."""
        return self.optim.learning_rate_at(self.data.batch_size)

    @property
    def resolved_weight_decay(self) -> float | None:
        """The L2 coefficient of the loss at this batch size."""
        return self.optim.weight_decay_at(self.data.batch_size)

    def schedule_steps(self, epochs: Epochs) -> int:
        """The schedule's horizon in steps: --epochs when given, else the step budget."""
        if self.epochs:
            return max(1, math.ceil(epochs.to_steps(self.epochs)))
        return self.max_steps or DEFAULT_MAX_STEPS
