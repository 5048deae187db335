"""Optimizers by name: SGD (with momentum), Adam and Adadelta (Muon: convnet.optim.muon; their
base: convnet.optim.optimizer_base), and their default learning rates.

The optimizers are small `tf.Module`s written here rather than Keras ones, so
their update rule, slot variables and checkpoint layout do not change with the
Keras version. Each is checked against a numpy implementation in
tests/optim/test_optimizers.py. Call `build(variables)` once (eagerly) before the first
`apply_gradients`, so slots exist before a checkpoint is restored into them.
A step applies the learning rate of the batch's mean loss (convnet.optim.schedules);
`from_decoupled` converts the per-1,024-examples form to it.
"""


import tensorflow as tf

from convnet.optim import schedules
from convnet.optim.muon import Muon
from convnet.optim.optimizer_base import Optimizer

INITIAL_LEARNING_RATE = 0.1  # for SGD, the tutorial's (cifar10.py)
ADAM_LEARNING_RATE = 1e-3
MUON_LEARNING_RATE = 0.24  # airbench94_muon's, on conv filters renormalized to norm sqrt(out)

OPTIMIZERS = ("sgd", "adam", "adadelta", "muon")
__all__ = ["OPTIMIZERS", "Optimizer", "SGD", "Adam", "Adadelta", "Muon", "make_optimizer",
           "default_learning_rate", "from_decoupled"]


def default_learning_rate(optimizer: str) -> float:
    """The tutorial's 0.1 for SGD; Adam's usual 1e-3; Adadelta's 1.0 (Zeiler 2012); Muon's
    0.24 (airbench94_muon)."""
    return {"adam": ADAM_LEARNING_RATE, "adadelta": 1.0,
            "muon": MUON_LEARNING_RATE}.get(optimizer, INITIAL_LEARNING_RATE)


def from_decoupled(learning_rate: float, weight_decay: float, momentum: float,
                   *, batch_size: int) -> tuple:
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

    def _update(self, grad, var, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
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
                 *, name: str = "adam"):
        super().__init__(name=name)
        for label, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta}")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, grad, var, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
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

    def _update(self, grad, var, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
        accumulated_grad, accumulated_update = slots
        accumulated_grad.assign(self.rho * accumulated_grad + (1 - self.rho) * tf.square(grad))
        delta = tf.sqrt(accumulated_update + self.epsilon) / tf.sqrt(
            accumulated_grad + self.epsilon) * grad
        accumulated_update.assign(self.rho * accumulated_update + (1 - self.rho) * tf.square(delta))
        var.assign_sub(learning_rate * delta)


def make_optimizer(name: str, momentum: float = 0.0, nesterov: bool = False,
                   *, label: str | None = None) -> Optimizer:
    """One of OPTIMIZERS (`label`: its name in checkpoints; default `name`)."""
    label = label or name
    if name == "sgd":
        return SGD(momentum=momentum, nesterov=nesterov, name=label)
    if name == "adam":
        return Adam(name=label)
    if name == "adadelta":
        return Adadelta(name=label)
    if name == "muon":
        return Muon(momentum=momentum, nesterov=nesterov, name=label)
    raise ValueError(f"unknown --optimizer={name!r}: choose from {', '.join(OPTIMIZERS)}")
