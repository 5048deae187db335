"""Muon: momentum orthogonalized by Newton-Schulz iterations (K. Jordan et al. 2024, used by
airbench94_muon on the conv filters).

For a variable of two or more dimensions (a conv kernel [kh, kw, in, out] is taken as the
[out, kh*kw*in] matrix of its filters; a dense kernel [in, out] as [out, in]) a step is

    buffer <- momentum * buffer + gradient
    g      <- gradient + momentum * buffer   (Nesterov)   or   buffer
    w      <- w * sqrt(out) / ||w||          (the filters renormalized: norm sqrt(out))
    w      <- w - lr * orthogonalize(g)

`orthogonalize` runs `steps` iterations of the quintic X <- aX + (bA + cA^2)X, A = XX^T with
(a, b, c) = (3.4445, -4.7750, 2.0315) on X = g / ||g|| (on the wide side of the matrix): it
pushes every singular value of g towards 1 (into roughly [0.5, 1.5] after 3 steps, airbench's
number; closer with more) without an SVD, so the update moves every direction of the filters
by about the same amount. A variable of one dimension (a bias) has no matrix to
orthogonalize: it takes the momentum step of SGD. Muon ignores the size of the gradient, so
the loss's scale (mean or sum over the batch) does not change its steps; weight decay is
pointless under the renormalization (give its group decay_scale=0).
"""

import tensorflow as tf

from convnet.optim.optimizer_base import Optimizer

# The quintic's coefficients (airbench94_muon, modded-nanogpt): the largest slope at zero.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 3  # airbench94_muon's
NS_EPSILON = 1e-7


def orthogonalize(matrix: tf.Tensor, steps: int = NS_STEPS,
                  compute_dtype: tf.DType = tf.float32) -> tf.Tensor:
    """`matrix` [m, n] with its singular values pushed towards 1 (see the module's docstring);
    returned in the matrix's dtype. `compute_dtype` (e.g. bfloat16) is the iteration's."""
    a, b, c = NS_COEFFICIENTS
    x = tf.cast(matrix, compute_dtype)
    x = x / (tf.norm(x) + NS_EPSILON)  # every singular value <= 1
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:
        x = tf.transpose(x)
    for _ in range(steps):
        gram = tf.matmul(x, x, transpose_b=True)
        x = a * x + tf.matmul(b * gram + c * tf.matmul(gram, gram), x)
    if tall:
        x = tf.transpose(x)
    return tf.cast(x, matrix.dtype)


def filters_matrix(value: tf.Tensor) -> tf.Tensor:
    """A kernel as the [out, fan_in] matrix of its filters (the last axis is `out`)."""
    out = value.shape[-1]
    return tf.transpose(tf.reshape(value, [-1, out]))


def from_filters_matrix(matrix: tf.Tensor, shape) -> tf.Tensor:
    """The inverse of `filters_matrix`."""
    return tf.reshape(tf.transpose(matrix), shape)


class Muon(Optimizer):
    """Muon on kernels, SGD with momentum on the other variables it is given.

    Args:
      momentum: in [0, 1) (airbench94_muon: 0.6).
      nesterov: the Nesterov form.
      steps: Newton-Schulz iterations.
      renormalize: rescale each kernel to norm sqrt(out) before its step (airbench94_muon).
      compute_dtype: the iterations' dtype (float32; bfloat16 is what airbench uses on GPUs).
    """

    slot_names = ("momentum",)

    def __init__(self, momentum: float = 0.6, nesterov: bool = True, steps: int = NS_STEPS,
                 *, renormalize: bool = True, compute_dtype: tf.DType = tf.float32,
                 name: str = "muon"):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if steps < 1:
            raise ValueError(f"Newton-Schulz steps must be >= 1, got {steps}")
        super().__init__(name=name)
        self.momentum, self.nesterov, self.steps = momentum, nesterov, steps
        self.renormalize, self.compute_dtype = renormalize, compute_dtype

    def _update(self, grad, var, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
        (buffer,) = slots
        buffer.assign(self.momentum * buffer + grad)
        step = grad + self.momentum * buffer if self.nesterov else buffer
        if len(var.shape) < 2:  # a bias: momentum SGD
            var.assign_sub(learning_rate * step)
            return
        if self.renormalize:
            out = tf.cast(var.shape[-1], var.dtype)
            var.assign(var * tf.sqrt(out) / (tf.norm(var) + NS_EPSILON))
        update = orthogonalize(filters_matrix(step), self.steps, self.compute_dtype)
        var.assign_sub(learning_rate * from_filters_matrix(update, var.shape))
