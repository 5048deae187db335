"""Learning-rate schedules, optimizers and the exponential moving average of weights.

The optimizers are small `tf.Module`s written here rather than Keras ones, so
their update rule, slot variables and checkpoint layout do not change with the
Keras version. Each is checked against a numpy implementation in
tests/test_optim.py. Call `build(variables)` once (eagerly) before the first
`apply_gradients`, so slots exist before a checkpoint is restored into them.
"""

from typing import List, Optional, Sequence

import numpy as np
import tensorflow as tf

# Tutorial constants (cifar10.py).
NUM_EXAMPLES_PER_EPOCH = 50000
NUM_EPOCHS_PER_DECAY = 350.0
LEARNING_RATE_DECAY_FACTOR = 0.1
INITIAL_LEARNING_RATE = 0.1  # for SGD
ADAM_LEARNING_RATE = 1e-3
MOVING_AVERAGE_DECAY = 0.9999

OPTIMIZERS = ("sgd", "adam", "adadelta")
SCHEDULES = ("constant", "exponential", "piecewise", "cosine", "warmup_linear")
# warmup_linear defaults: airbench's (Jordan 2024): from 0.2x up to 1x over the first 23% of
# the steps, then linearly down to 0.07x at the last.
WARMUP_FRACTION, WARMUP_START_FACTOR, END_FACTOR = 0.23, 0.2, 0.07


def default_learning_rate(optimizer: str) -> float:
    """The tutorial's 0.1 for SGD; Adam's usual 1e-3; Adadelta's 1.0 (Zeiler 2012)."""
    return {"adam": ADAM_LEARNING_RATE, "adadelta": 1.0}.get(optimizer, INITIAL_LEARNING_RATE)


def _check_learning_rate(value: float) -> None:
    if value <= 0:
        raise ValueError(f"learning rate must be positive, got {value}")


class ExponentialStaircase:
    """lr(step) = initial * factor ** floor(step / decay_steps), as the tutorial's decay."""

    def __init__(self, initial: float, decay_steps: int, factor: float):
        _check_learning_rate(initial)
        if decay_steps <= 0:
            raise ValueError(f"decay steps must be positive, got {decay_steps}")
        if not 0 < factor <= 1:
            raise ValueError(f"decay factor must be in (0, 1], got {factor}")
        self.initial, self.decay_steps, self.factor = initial, decay_steps, factor

    def __call__(self, step) -> tf.Tensor:
        exponent = tf.math.floordiv(tf.cast(step, tf.int64), self.decay_steps)
        return self.initial * tf.pow(tf.constant(self.factor, tf.float32),
                                     tf.cast(exponent, tf.float32))


class Constant:
    """lr(step) = value."""

    def __init__(self, value: float):
        _check_learning_rate(value)
        self.initial = value

    def __call__(self, step) -> tf.Tensor:
        return tf.constant(self.initial, tf.float32)


class Piecewise:
    """lr(step) = initial * factor ** (number of boundaries <= step)."""

    def __init__(self, initial: float, boundaries: Sequence[int], factor: float):
        _check_learning_rate(initial)
        if (not boundaries or list(boundaries) != sorted(boundaries)
                or any(b <= 0 for b in boundaries)):
            raise ValueError(f"boundaries must be positive and increasing, got {boundaries}")
        self.initial, self.factor = initial, factor
        self.boundaries = tf.constant(list(boundaries), tf.int64)

    def __call__(self, step) -> tf.Tensor:
        passed = tf.reduce_sum(tf.cast(self.boundaries <= tf.cast(step, tf.int64), tf.float32))
        return self.initial * tf.pow(tf.constant(self.factor, tf.float32), passed)


class Cosine:
    """lr(step) = initial * (1 + cos(pi * min(step, total) / total)) / 2."""

    def __init__(self, initial: float, total_steps: int):
        _check_learning_rate(initial)
        if total_steps <= 0:
            raise ValueError(f"cosine schedule needs positive total steps, got {total_steps}")
        self.initial, self.total_steps = initial, total_steps

    def __call__(self, step) -> tf.Tensor:
        progress = tf.minimum(tf.cast(step, tf.float32), self.total_steps) / self.total_steps
        return self.initial * 0.5 * (1.0 + tf.cos(np.pi * progress))


class WarmupLinear:
    """lr(step) = initial x the piecewise-linear interpolation of (0, start_factor),
    (warmup_steps, 1), (total_steps, end_factor); flat at end_factor after total_steps.
    warmup_steps = int(warmup_fraction * total_steps)."""

    def __init__(self, initial: float, total_steps: int, warmup_fraction: float = WARMUP_FRACTION,
                 start_factor: float = WARMUP_START_FACTOR, end_factor: float = END_FACTOR):
        _check_learning_rate(initial)
        if total_steps <= 0:
            raise ValueError(f"warmup_linear needs positive total steps, got {total_steps}")
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"--lr_warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if start_factor < 0 or end_factor < 0:
            raise ValueError(f"--lr_start_factor and --lr_end_factor must be >= 0, got "
                             f"{start_factor}, {end_factor}")
        self.initial, self.total_steps = initial, total_steps
        self.warmup_steps = int(warmup_fraction * total_steps)
        self.start_factor, self.end_factor = start_factor, end_factor

    def __call__(self, step) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warmup, total = float(self.warmup_steps), float(self.total_steps)
        rising = self.start_factor + (1.0 - self.start_factor) * step / max(warmup, 1.0)
        falling = 1.0 + (self.end_factor - 1.0) * tf.minimum(step - warmup, total - warmup) / (
            total - warmup)
        return self.initial * tf.where(step < warmup, rising, falling)


def from_decoupled(learning_rate: float, weight_decay: float, momentum: float,
                   batch_size: int) -> tuple:
    """(learning rate of the mean loss, L2 coefficient of the loss) from the decoupled form.

    The decoupled form (Myrtle's and airbench's) gives the learning rate and the weight
    decay per 1,024 examples, independent of momentum and of each other: with momentum m
    a step moves 1 + 1/(1 - m) times the gradient in the long run, so the per-example
    step is lr / (1024 (1 + 1/(1 - m))) on the summed loss, and the weights shrink by
    wd x batch / (1024 (1 + 1/(1 - m))) a step, whatever the lr. On convnet's mean loss
    with the decay in the loss (`wd x l2_loss(w)`, through the momentum as PyTorch's SGD
    weight_decay) that is lr x batch / (1024 (1 + 1/(1 - m))) and wd / lr.
    """
    if not 0 < momentum < 1:
        raise ValueError(f"the decoupled form needs momentum in (0, 1), got {momentum}")
    _check_learning_rate(learning_rate)
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    return learning_rate * batch_size / kilostep, weight_decay / learning_rate


def decay_steps_for(batch_size: int, num_epochs_per_decay: float,
                    examples_per_epoch: int = NUM_EXAMPLES_PER_EPOCH) -> int:
    """Steps between decays: int(examples_per_epoch / batch_size * epochs), 136,718 at batch 128."""
    return max(1, int(examples_per_epoch / batch_size * num_epochs_per_decay))


def make_schedule(name: str, learning_rate: float, batch_size: int,
                  num_epochs_per_decay: float = NUM_EPOCHS_PER_DECAY,
                  decay_factor: float = LEARNING_RATE_DECAY_FACTOR,
                  examples_per_epoch: int = NUM_EXAMPLES_PER_EPOCH,
                  boundary_epochs: Sequence[float] = (), total_steps: int = 0,
                  warmup_fraction: float = WARMUP_FRACTION,
                  start_factor: float = WARMUP_START_FACTOR, end_factor: float = END_FACTOR):
    """Builds one of SCHEDULES; epochs are converted to steps at `batch_size`.

    exponential: x`decay_factor` every `num_epochs_per_decay` epochs (the tutorial's);
    piecewise: x`decay_factor` at each of `boundary_epochs`; cosine: to 0 at `total_steps`;
    warmup_linear: see `WarmupLinear`, over `total_steps`.
    """
    steps_per_epoch = examples_per_epoch / batch_size
    if name == "constant":
        return Constant(learning_rate)
    if name == "exponential":
        steps = decay_steps_for(batch_size, num_epochs_per_decay, examples_per_epoch)
        return ExponentialStaircase(learning_rate, steps, decay_factor)
    if name == "piecewise":
        if not boundary_epochs:
            raise ValueError("--lr_schedule=piecewise needs --lr_boundary_epochs, e.g. 150,225")
        return Piecewise(learning_rate, [max(1, int(e * steps_per_epoch)) for e in boundary_epochs],
                         decay_factor)
    if name == "cosine":
        return Cosine(learning_rate, total_steps)
    if name == "warmup_linear":
        return WarmupLinear(learning_rate, total_steps, warmup_fraction, start_factor, end_factor)
    raise ValueError(f"unknown --lr_schedule={name!r}: choose from {', '.join(SCHEDULES)}")


class Optimizer(tf.Module):
    """Base: keeps slot variables aligned with the variable list given to `build`."""

    slot_names: Sequence[str] = ()

    def __init__(self, name: Optional[str] = None):
        super().__init__(name=name)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.slots: List[List[tf.Variable]] = []
        self._var_ids: Optional[List[int]] = None

    def build(self, variables: Sequence[tf.Variable]) -> None:
        if self._var_ids is not None:
            return
        self._var_ids = [id(v) for v in variables]
        with self.name_scope:
            self.slots = [[tf.Variable(tf.zeros_like(v), trainable=False,
                                       name=f"{v.name.split(':')[0].replace('/', '_')}_{s}")
                           for s in self.slot_names] for v in variables]

    def apply_gradients(self, grads: Sequence[tf.Tensor], variables: Sequence[tf.Variable],
                        learning_rate: tf.Tensor, lr_scales: Optional[Sequence[float]] = None,
                        train_until: Optional[Sequence[Optional[int]]] = None) -> None:
        """Applies one update with `learning_rate` (a float32 scalar).

        `lr_scales` (one a variable) multiply the learning rate per variable;
        a variable whose `train_until` step is not None is updated (slots
        included) only while fewer updates than that have been applied
        (convnet.variable_groups). Under a `tf.distribute` strategy call it in
        cross-replica context (e.g. from `merge_call`) with the all-reduced
        gradients: every replica's copy of each variable gets the same update.
        """
        if self._var_ids is None:
            raise RuntimeError("call optimizer.build(variables) before apply_gradients")
        if [id(v) for v in variables] != self._var_ids:
            raise ValueError("apply_gradients got other variables than the optimizer was built for")
        done = self.iterations.read_value()  # updates applied before this one
        self.iterations.assign_add(1)
        extended = tf.distribute.get_strategy().extended
        lr_scales = lr_scales or [1.0] * len(variables)
        train_until = train_until or [None] * len(variables)
        for grad, var, slots, scale, until in zip(grads, variables, self.slots, lr_scales,
                                                  train_until):
            rate = learning_rate if scale == 1.0 else learning_rate * scale

            def update(grad=grad, var=var, slots=slots, rate=rate):
                # Each device's copy of var, grad and slots (one call with no strategy).
                extended.update(var, self._update_local, args=(grad, slots, rate), group=False)
                return tf.constant(True)

            if until is None:
                update()
            else:
                tf.cond(done < until, update, lambda: tf.constant(False))

    def _update_local(self, var, grad, slots, learning_rate):
        self._update(tf.cast(grad, var.dtype), var, slots, learning_rate)

    def _update(self, grad, var, slots, learning_rate):
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    v <- momentum * v - lr * g;  w <- w + v  (Nesterov: w <- w + momentum * v - lr * g).
    With momentum 0 this is plain `w <- w - lr * g`, the tutorial's optimizer.
    """

    def __init__(self, momentum: float = 0.0, nesterov: bool = False, name: str = "sgd"):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.slot_names = ("momentum",) if momentum else ()
        super().__init__(name=name)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, grad, var, slots, learning_rate):
        if not self.momentum:
            var.assign_sub(learning_rate * grad)
            return
        (velocity,) = slots
        velocity.assign(self.momentum * velocity - learning_rate * grad)
        if self.nesterov:
            var.assign_add(self.momentum * velocity - learning_rate * grad)
        else:
            var.assign_add(velocity)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1 with the efficient bias correction).

    m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    w <- w - lr * sqrt(1-b2^t) / (1-b1^t) * m / (sqrt(v) + epsilon).
    """

    slot_names = ("m", "v")

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 name: str = "adam"):
        super().__init__(name=name)
        for label, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta}")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, grad, var, slots, learning_rate):
        m, v = slots
        t = tf.cast(self.iterations, tf.float32)
        alpha = learning_rate * tf.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        m.assign(self.beta_1 * m + (1.0 - self.beta_1) * grad)
        v.assign(self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad))
        var.assign_sub(alpha * m / (tf.sqrt(v) + self.epsilon))


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) with a learning rate, as Keras and PyTorch define it.

    a <- rho a + (1-rho) g^2;  d <- sqrt(u + eps) / sqrt(a + eps) * g;
    u <- rho u + (1-rho) d^2;  w <- w - lr * d.
    """

    slot_names = ("accumulated_grad", "accumulated_update")

    def __init__(self, rho: float = 0.95, epsilon: float = 1e-7, name: str = "adadelta"):
        super().__init__(name=name)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        self.rho, self.epsilon = rho, epsilon

    def _update(self, grad, var, slots, learning_rate):
        accumulated_grad, accumulated_update = slots
        accumulated_grad.assign(self.rho * accumulated_grad + (1 - self.rho) * tf.square(grad))
        delta = tf.sqrt(accumulated_update + self.epsilon) / tf.sqrt(
            accumulated_grad + self.epsilon) * grad
        accumulated_update.assign(self.rho * accumulated_update + (1 - self.rho) * tf.square(delta))
        var.assign_sub(learning_rate * delta)


def make_optimizer(name: str, momentum: float = 0.0, nesterov: bool = False) -> Optimizer:
    if name == "sgd":
        return SGD(momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return Adam()
    if name == "adadelta":
        return Adadelta()
    raise ValueError(f"unknown --optimizer={name!r}: choose from {', '.join(OPTIMIZERS)}")


class WeightEMA(tf.Module):
    """Exponential moving average of variables, as `tf.train.ExponentialMovingAverage`.

    With `num_updates` (the global step) the decay used is
    min(decay, (1 + step) / (10 + step)), so early averages follow the weights.
    Shadows start equal to the variables.
    """

    def __init__(self, decay: float = MOVING_AVERAGE_DECAY, name: str = "ema"):
        super().__init__(name=name)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadows: List[tf.Variable] = []

    def build(self, variables: Sequence[tf.Variable]) -> None:
        if self.shadows:
            return
        with self.name_scope:
            self.shadows = [tf.Variable(v.read_value(), trainable=False,
                                        name=v.name.split(":")[0].replace("/", "_"))
                            for v in variables]

    def effective_decay(self, step) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        return tf.minimum(self.decay, (1.0 + step) / (10.0 + step))

    def apply(self, variables: Sequence[tf.Variable], step) -> None:
        """Moves each shadow towards its variable (cross-replica context under a strategy)."""
        decay = self.effective_decay(step)
        extended = tf.distribute.get_strategy().extended
        for shadow, var in zip(self.shadows, variables):
            extended.update(shadow, _move_towards, args=(var, 1.0 - decay), group=False)

    def copy_to(self, variables: Sequence[tf.Variable]) -> None:
        """Overwrites `variables` with their averages (for evaluation)."""
        if len(variables) != len(self.shadows):
            raise ValueError(f"EMA holds {len(self.shadows)} averages, got {len(variables)} variables")
        for shadow, var in zip(self.shadows, variables):
            var.assign(shadow)


def _move_towards(shadow: tf.Variable, var: tf.Variable, rate: tf.Tensor) -> None:
    shadow.assign_sub(rate * (shadow - var))
