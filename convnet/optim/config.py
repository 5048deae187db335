"""The optimisation settings of a training run (optimizer, learning rate and its schedule,
weight decay, label smoothing, per-variable groups, averaging), each with its default, help
and bounds (convnet.runtime.options), and the objects they make."""

import dataclasses
import math
from collections.abc import Sequence

from convnet.nn import losses
from convnet.optim import ema, grouped, lookahead, optimizers, schedules, variable_groups
from convnet.runtime.options import check, option

AUTO = "auto"  # --optimizer=auto: the model's preferred optimizer (OptimConfig.for_model)


@dataclasses.dataclass
class OptimConfig:
    """How the weights move."""
    optimizer: str = option(
        AUTO, "Optimizer; auto: the model's preferred_optimizer (convnet.models.base), sgd when "
        "it names none (lenet5, alexnet, inception and simple3, which plain SGD at 0.1 "
        "leaves at chance or sends to NaN, name adam).",
        choices=(AUTO, *optimizers.OPTIMIZERS))
    learning_rate: float | None = option(
        None, f"Initial learning rate (default {optimizers.INITIAL_LEARNING_RATE} for sgd as in "
        f"the tutorial, {optimizers.ADAM_LEARNING_RATE} for adam).")
    momentum: float = option(0.0, "SGD's or Muon's momentum (0: plain gradient descent, the "
                             "tutorial's; airbench94_muon: 0.6 for Muon).")
    nesterov: bool = option(False, "Nesterov momentum for SGD or Muon.")
    weight_decay: float | None = option(
        None, "L2 coefficient on every kernel (the loss adds wd * l2_loss(w)); default: the "
        "model's own (0.004 on the tutorial model's hidden dense layers, none elsewhere).",
        lower_bound=0)
    decoupled_hyperparameters: bool = option(
        False, "Read --learning_rate and --weight_decay in the decoupled form of SGD with "
        "momentum (airbench, Myrtle): per 1,024 examples, independent of --momentum and of "
        "each other (optimizers.from_decoupled converts them).")
    label_smoothing: float = option(
        0.0, "Label smoothing of the cross-entropy: the true class's target is 1 - s + s/K, "
        "the others' s/K.", lower_bound=0.0)
    lr_schedule: str = option(
        "constant", "Learning-rate schedule: constant; exponential (x--lr_decay_factor every "
        "--num_epochs_per_decay epochs); piecewise (x--lr_decay_factor at each of "
        "--lr_boundary_epochs); cosine (to 0 at the last step).", choices=schedules.SCHEDULES)
    lr_decay: bool = option(
        False, "Same as --lr_schedule=exponential, the tutorial's staircase decay: multiply "
        "the learning rate by --lr_decay_factor every --num_epochs_per_decay epochs. With the "
        "tutorial's defaults (350 epochs, batch 128) the first decay is at step 136,718, so at "
        "the documented 100,000 steps it never fires.")
    lr_boundary_epochs: Sequence[float] = option(
        (), "Epochs at which the piecewise schedule multiplies the learning rate by "
        "--lr_decay_factor, e.g. 150,225.")
    lr_decay_factor: float = option(schedules.LEARNING_RATE_DECAY_FACTOR,
                                    "Learning-rate decay factor.")
    num_epochs_per_decay: float = option(schedules.NUM_EPOCHS_PER_DECAY,
                                         "Epochs between learning-rate decays.")
    lr_warmup_fraction: float = option(
        schedules.WARMUP_FRACTION, "--lr_schedule=warmup_linear: fraction of the steps spent "
        "rising from --lr_start_factor x the learning rate to 1x (then falling linearly to "
        "--lr_end_factor x at the last step).")
    lr_start_factor: float = option(
        schedules.WARMUP_START_FACTOR,
        "--lr_schedule=warmup_linear: the learning rate factor at step 0.")
    lr_end_factor: float = option(
        schedules.END_FACTOR, "--lr_schedule=warmup_linear: the learning rate factor at the "
        "last step.")
    moving_average_decay: float = option(
        ema.MOVING_AVERAGE_DECAY,
        "Decay of the exponential moving average of the weights used for eval.")
    variable_groups: str = option(
        "", "Per-variable settings, 'PATTERN:key=value,...;PATTERN:...' with keys lr_scale "
        "(learning-rate multiplier; the decay's shrink is unchanged), decay_scale (multiplier "
        "of that shrink), train_epochs (frozen after; the backward pass then stops below the "
        "lowest layer still trained), optimizer, momentum and nesterov (1 or 0; the group's own "
        "optimizer in the same step), PATTERN a regular expression searched in the variable "
        "names, e.g. 'beta:lr_scale=64;whiten.*bias:train_epochs=3' or "
        "'group.*kernel:optimizer=muon,momentum=0.6,nesterov=1,decay_scale=0'.")
    lookahead_every: int = option(
        0, "Lookahead averaging every N steps (0: off): the weights and BatchNorm statistics "
        "move to an average with decay --lookahead_base ** N x (step / steps) ** "
        "--lookahead_power, written back into the model; at the end the model takes the "
        "average.", lower_bound=0)
    lookahead_base: float = option(0.95, "Per-step decay base of --lookahead_every.")
    lookahead_power: float = option(3.0, "Warm-up exponent of --lookahead_every's decay.")
    lookahead_start_epoch: float = option(0.0, "No lookahead averaging before this epoch.",
                                          lower_bound=0.0)

    def __post_init__(self):
        self.lr_boundary_epochs = tuple(float(e) for e in self.lr_boundary_epochs)

    def validate(self) -> None:
        """Checks only: no TensorFlow op runs here (a multi-worker strategy comes first)."""
        check(self)
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
        if self.decoupled_hyperparameters and (self.optimizer not in ("sgd", AUTO)
                                               or not self.momentum
                                               or self.learning_rate is None):
            raise ValueError("--decoupled_hyperparameters is a form of SGD with momentum: pass "
                             "--optimizer=sgd, --momentum and --learning_rate")
        losses.check_label_smoothing(self.label_smoothing)
        variable_groups.parse(self.variable_groups)  # its errors before any work

    def for_model(self, model) -> "OptimConfig":
        """These settings with `--optimizer=auto` resolved for `model` (a built
        `convnet.models.Model`): its `preferred_optimizer`, or sgd when it names none; the
        same settings when the optimizer is named. The learning rate, if not given, is then
        that optimizer's default.

        Raises:
          ValueError: the model prefers an optimizer convnet does not have, or the resolved
            one breaks a rule of these settings (--decoupled_hyperparameters needs sgd).
        """
        if self.optimizer != AUTO:
            return self
        chosen = getattr(model, "preferred_optimizer", None) or "sgd"
        if chosen not in optimizers.OPTIMIZERS:
            raise ValueError(f"{type(model).__name__}.preferred_optimizer={chosen!r} is not one "
                             f"of convnet's optimizers ({', '.join(optimizers.OPTIMIZERS)}): "
                             f"fix the model, or pass --optimizer")
        resolved = dataclasses.replace(self, optimizer=chosen)
        resolved.validate()
        return resolved

    def _require_resolved(self) -> None:
        if self.optimizer == AUTO:
            raise ValueError("--optimizer=auto is resolved by the model: call "
                             "OptimConfig.for_model(model) first (TrainingSetup does)")

    @property
    def schedule_name(self) -> str:
        return "exponential" if self.lr_decay else self.lr_schedule

    def learning_rate_at(self, batch_size: int) -> float:
        """The learning rate of the mean loss (converted from the decoupled form if asked)."""
        self._require_resolved()
        if self.learning_rate is None:
            return optimizers.default_learning_rate(self.optimizer)
        if self.decoupled_hyperparameters:
            return optimizers.from_decoupled(self.learning_rate, 0.0, self.momentum,
                                             batch_size=batch_size)[0]
        return self.learning_rate

    def weight_decay_at(self, batch_size: int) -> float | None:
        """The L2 coefficient of the loss (converted from the decoupled form if asked)."""
        if self.weight_decay is None or not self.decoupled_hyperparameters:
            return self.weight_decay
        return optimizers.from_decoupled(self.learning_rate, self.weight_decay, self.momentum,
                                    batch_size=batch_size)[1]

    def make_optimizer(self) -> optimizers.Optimizer:
        """--optimizer, or a `grouped.Grouped` when a variable group sets its own."""
        self._require_resolved()
        groups = variable_groups.parse(self.variable_groups)
        if any(group.sets_optimizer for group in groups):
            return grouped.Grouped((self.optimizer, self.momentum, self.nesterov), groups)
        return optimizers.make_optimizer(self.optimizer, self.momentum, self.nesterov)

    def make_schedule(self, epochs: schedules.Epochs, total_steps: int):
        """The learning-rate schedule over `total_steps` steps of `epochs.batch_size` examples."""
        return schedules.make_schedule(
            self.schedule_name, self.learning_rate_at(epochs.batch_size), epochs,
            num_epochs_per_decay=self.num_epochs_per_decay, decay_factor=self.lr_decay_factor,
            boundary_epochs=self.lr_boundary_epochs,
            total_steps=total_steps, warmup_fraction=self.lr_warmup_fraction,
            start_factor=self.lr_start_factor, end_factor=self.lr_end_factor)

    def make_lookahead(self, schedule_steps: int, epochs: schedules.Epochs):
        """The `lookahead.Lookahead` of --lookahead_every (None when 0), started at
        --lookahead_start_epoch (rounded up to a step)."""
        if not self.lookahead_every:
            return None
        return lookahead.Lookahead(schedule_steps, self.lookahead_every, self.lookahead_base,
                                   power=self.lookahead_power,
                                   start_step=math.ceil(epochs.to_steps(self.lookahead_start_epoch)))
