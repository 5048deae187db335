"""Optimizers: SGD (with momentum), Adam and Adadelta (Muon: convnet.optim.muon), and their
default learning rates.

The optimizers are small `tf.Module`s written here rather than Keras ones, so
their update rule, slot variables and checkpoint layout do not change with the
Keras version. Each is checked against a numpy implementation in
tests/optim/test_optimizers.py. Call `build(variables)` once (eagerly) before the first
`apply_gradients`, so slots exist before a checkpoint is restored into them.
A step applies the learning rate of the batch's mean loss (convnet.optim.schedules);
`from_decoupled` converts the per-1,024-examples form to it.
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.optim import schedules

INITIAL_LEARNING_RATE = 0.1  # for SGD, the tutorial's (cifar10.py)
ADAM_LEARNING_RATE = 1e-3
MUON_LEARNING_RATE = 0.24  # airbench94_muon's, on conv filters renormalized to norm sqrt(out)

OPTIMIZERS = ("sgd", "adam", "adadelta", "muon")


def default_learning_rate(optimizer: str) -> float:
    """The tutorial's 0.1 for SGD; Adam's usual 1e-3; Adadelta's 1.0 (Zeiler 2012); Muon's
    0.24 (airbench94_muon)."""
    return {"adam": ADAM_LEARNING_RATE, "adadelta": 1.0,
            "muon": MUON_LEARNING_RATE}.get(optimizer, INITIAL_LEARNING_RATE)


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
    schedules.check_learning_rate(learning_rate)
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    return learning_rate * batch_size / kilostep, weight_decay / learning_rate


class Optimizer(tf.Module):
    """Base: keeps slot variables aligned with the variable list given to `build`."""

    slot_names: Sequence[str] = ()

    def __init__(self, name: str | None = None):
        super().__init__(name=name)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.slots: list[list[tf.Variable]] = []
        self._var_ids: list[int] | None = None

    def build(self, variables: Sequence[tf.Variable]) -> None:
        if self._var_ids is not None:
            return
        self._var_ids = [id(v) for v in variables]
        with self.name_scope:
            self.slots = [[tf.Variable(tf.zeros_like(v), trainable=False,
                                       name=f"{v.name.split(':')[0].replace('/', '_')}_{s}")
                           for s in self.slot_names] for v in variables]

    def apply_gradients(self, grads: Sequence[tf.Tensor], variables: Sequence[tf.Variable],
                        learning_rate: tf.Tensor, lr_scales: Sequence[float] | None = None,
                        train_until: Sequence[int | None] | None = None) -> None:
        """Applies one update with `learning_rate` (a float32 scalar).

        `lr_scales` (one a variable) multiply the learning rate per variable;
        a variable whose `train_until` step is not None is updated (slots
        included) only while fewer updates than that have been applied
        (convnet.optim.variable_groups). Under a `tf.distribute` strategy call it in
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
                                                  train_until, strict=True):
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


def make_optimizer(name: str, momentum: float = 0.0, nesterov: bool = False,
                   label: str | None = None) -> Optimizer:
    """One of OPTIMIZERS (`label`: its name in checkpoints; default `name`)."""
    label = label or name
    if name == "sgd":
        return SGD(momentum=momentum, nesterov=nesterov, name=label)
    if name == "adam":
        return Adam(name=label)
    if name == "adadelta":
        return Adadelta(name=label)
    if name == "muon":
        from convnet.optim.muon import Muon  # muon builds on Optimizer, defined here

        return Muon(momentum=momentum, nesterov=nesterov, name=label)
    raise ValueError(f"unknown --optimizer={name!r}: choose from {', '.join(OPTIMIZERS)}")
