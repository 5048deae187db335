"""Mixed precision: the compute dtype of a `--precision`, and a dynamic loss scale.

Variables, logits, the loss and the preprocessing stay float32; the model
computes in the policy's dtype because every layer casts its weights to its
input's dtype (convnet.layers), so casting the images is all it takes.
float16 needs its loss scaled so small gradients do not flush to zero:
`DynamicLossScale` doubles the scale after `growth_steps` finite steps in a row
and halves it (skipping the update) whenever the gradients overflow, as in
Micikevicius et al. 2018. bfloat16 has float32's exponent range and needs none.
"""

import tensorflow as tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# Keras' LossScaleOptimizer defaults: start at 2**15, grow after 2,000 good steps.
INITIAL_LOSS_SCALE = 2.0 ** 15
GROWTH_STEPS = 2000


def compute_dtype(precision: str) -> tf.DType:
    """float32, float16 or bfloat16 for one of PRECISIONS."""
    dtypes = {"float32": tf.float32, "mixed_float16": tf.float16,
              "mixed_bfloat16": tf.bfloat16}
    if precision not in dtypes:
        raise ValueError(f"unknown --precision={precision!r}: choose from {', '.join(PRECISIONS)}")
    return dtypes[precision]


class DynamicLossScale(tf.Module):
    """The loss scale S: gradients of S * loss, divided by S, equal those of loss.

    Call `scale(loss)` before differentiating, `unscale(grads)` after, and
    `update(grads_finite)` once a step in cross-replica context (or with no
    strategy). State lives in variables, so it is checkpointed with the run.
    """

    def __init__(self, initial: float = INITIAL_LOSS_SCALE, growth_steps: int = GROWTH_STEPS,
                 name: str = "loss_scale"):
        super().__init__(name=name)
        if initial < 1:
            raise ValueError(f"initial loss scale must be >= 1, got {initial}")
        if growth_steps <= 0:
            raise ValueError(f"growth steps must be positive, got {growth_steps}")
        self.growth_steps = growth_steps
        with self.name_scope:
            self.value = tf.Variable(float(initial), trainable=False, name="scale")
            self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

    def scale(self, loss: tf.Tensor) -> tf.Tensor:
        return loss * tf.cast(self.value, loss.dtype)

    def unscale(self, grads):
        inverse = 1.0 / self.value
        return [None if g is None else tf.cast(g, tf.float32) * inverse for g in grads]

    def update(self, grads_finite) -> None:
        """Grows the scale after `growth_steps` finite steps; halves it (>= 1) on overflow."""
        grow = tf.logical_and(grads_finite, self.good_steps + 1 >= self.growth_steps)
        new_value = tf.where(grads_finite, tf.where(grow, self.value * 2.0, self.value),
                             tf.maximum(self.value / 2.0, 1.0))
        new_good = tf.where(tf.logical_and(grads_finite, tf.logical_not(grow)),
                            self.good_steps + 1, tf.zeros_like(self.good_steps))
        self.value.assign(new_value)
        self.good_steps.assign(new_good)
