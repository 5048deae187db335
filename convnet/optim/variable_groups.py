"""Variable groups: per-variable learning-rate and weight-decay multipliers, and trainability
that follows the epoch.

A group selects variables by a regular expression searched in their names and
sets, for them:

  lr_scale      multiplies the learning rate (airbench trains BatchNorm biases at
                64x, its `bias_scaler`);
  decay_scale   multiplies the weight decay's shrink of the variable per step. The
                shrink is learning rate x decay coefficient, so a group's decay
                coefficient is the variable's `wd` x decay_scale / lr_scale: a
                faster-learning group is not decayed faster ("64x learning rate but
                not 64x decay");
  train_epochs  the variable is updated only during the first N epochs, then frozen
                (its optimizer slots and weight decay stop too, and the backward pass
                stops below the lowest layer still trained: convnet.training.step);
                airbench trains its whitening bias for 3 epochs;
  optimizer     the group's own optimizer (sgd, adam, adadelta, muon), in the same step
                as the others (convnet.optim.grouped); airbench94_muon moves its conv
                filters by Muon and the rest by Nesterov SGD;
  momentum      that optimizer's momentum (default: --momentum);
  nesterov      1 for its Nesterov form, 0 for the plain one (default: --nesterov).

Written as `--variable_groups='PATTERN:key=value,key=value;PATTERN:...'`, e.g.
`'beta:lr_scale=64;whiten.*bias:train_epochs=3'` or
`'group.*kernel:optimizer=muon,momentum=0.6,nesterov=1,decay_scale=0'`. The first group
whose pattern matches a variable's name applies to it; variables no group matches keep scale 1.
"""

import dataclasses
import math
import re
from collections.abc import Sequence

import tensorflow as tf

from convnet.nn import ops
from convnet.optim.optimizers import OPTIMIZERS
from convnet.optim.schedules import Epochs


@dataclasses.dataclass(frozen=True)
class VariableGroup:
    pattern: str
    lr_scale: float = 1.0
    decay_scale: float = 1.0
    train_epochs: float | None = None
    optimizer: str | None = None  # None: the run's --optimizer
    momentum: float | None = None  # None: the run's --momentum
    nesterov: bool | None = None  # None: the run's --nesterov

    def __post_init__(self):
        try:
            re.compile(self.pattern)
        except re.error as e:
            raise ValueError(f"--variable_groups: {self.pattern!r} is not a regular expression "
                             f"({e})") from e
        if not self.lr_scale > 0:
            raise ValueError(f"--variable_groups: lr_scale must be > 0, got {self.lr_scale}")
        if self.decay_scale < 0:
            raise ValueError(f"--variable_groups: decay_scale must be >= 0, got "
                             f"{self.decay_scale}")
        if self.train_epochs is not None and self.train_epochs < 0:
            raise ValueError(f"--variable_groups: train_epochs must be >= 0, got "
                             f"{self.train_epochs}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--variable_groups: unknown optimizer={self.optimizer!r}: "
                             f"choose from {', '.join(OPTIMIZERS)}")
        if self.momentum is not None and not 0 <= self.momentum < 1:
            raise ValueError(f"--variable_groups: momentum must be in [0, 1), got "
                             f"{self.momentum}")

    @property
    def sets_optimizer(self) -> bool:
        """Whether the group moves its variables by other optimizer settings than the run's."""
        return (self.optimizer, self.momentum, self.nesterov) != (None, None, None)

    def matches(self, variable: tf.Variable) -> bool:
        return re.search(self.pattern, variable.name) is not None


_NUMBERS = {"lr_scale", "decay_scale", "train_epochs", "momentum"}
_KEYS = _NUMBERS | {"optimizer", "nesterov"}


def _value(key: str, value: str):
    """A group setting's value from its text."""
    if key == "optimizer":
        return value
    if key == "nesterov":
        if value not in ("0", "1", "true", "false"):
            raise ValueError(f"--variable_groups: nesterov={value!r} is not 1 or 0")
        return value in ("1", "true")
    try:
        return float(value)
    except ValueError as e:
        raise ValueError(f"--variable_groups: {key}={value!r} is not a number") from e


def parse(spec: str | None) -> list[VariableGroup]:
    """'PATTERN:key=value,...;PATTERN:...' -> groups (empty spec: none)."""
    groups = []
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        pattern, _, settings = part.strip().rpartition(":")
        if not pattern:
            raise ValueError(f"--variable_groups: {part!r} is not PATTERN:key=value,... "
                             f"(keys: {', '.join(sorted(_KEYS))})")
        values = {}
        for setting in settings.split(","):
            key, _, value = setting.strip().partition("=")
            if key not in _KEYS or not value:
                raise ValueError(f"--variable_groups: {setting.strip()!r} in {part!r} is not "
                                 f"key=value with a key of {', '.join(sorted(_KEYS))}")
            values[key] = _value(key, value)
        groups.append(VariableGroup(pattern, **values))
    return groups


@dataclasses.dataclass(frozen=True)
class Assignment:
    """What the groups make of a list of variables, one entry a variable."""
    lr_scales: Sequence[float]
    decay_scales: Sequence[float]  # multiplies each variable's wd in the loss
    train_until_steps: Sequence[int | None]  # None: always trained


def group_of(groups: Sequence[VariableGroup], variable: tf.Variable) -> VariableGroup | None:
    """The first group whose pattern matches `variable` (None: no group)."""
    return next((g for g in groups if g.matches(variable)), None)


def assign(groups: Sequence[VariableGroup], variables: Sequence[tf.Variable],
           epochs: Epochs | None) -> Assignment:
    """Resolves the groups over `variables` (first match wins); `epochs` converts the groups'
    train_epochs to steps (None when no group sets train_epochs)."""
    lr_scales, decay_scales, until = [], [], []
    for var in variables:
        group = group_of(groups, var)
        if group is None:
            lr_scales.append(1.0)
            decay_scales.append(1.0)
            until.append(None)
            continue
        lr_scales.append(group.lr_scale)
        decay_scales.append(group.decay_scale / group.lr_scale)
        until.append(None if group.train_epochs is None
                     else math.ceil(epochs.to_steps(group.train_epochs)))
    return Assignment(tuple(lr_scales), tuple(decay_scales), tuple(until))


def unmatched(groups: Sequence[VariableGroup], variables: Sequence[tf.Variable]) -> list[str]:
    """The patterns that match none of `variables` (most likely a typo)."""
    return [g.pattern for g in groups if not any(g.matches(v) for v in variables)]


def weight_decay_loss(variables: Sequence[tf.Variable], decay_scales: Sequence[float]) -> tf.Tensor:
    """sum(wd * decay_scale * l2_loss(w)) over the variables that carry a decay `wd`
    (`convnet.ops.variable_with_weight_decay`); float32 scalar."""
    terms = [tf.cast(ops.weight_decay_of(var) * scale * tf.nn.l2_loss(var), tf.float32)
             for var, scale in zip(variables, decay_scales, strict=True)
             if ops.weight_decay_of(var) is not None and scale]
    return tf.add_n(terms) if terms else tf.constant(0.0, tf.float32)
