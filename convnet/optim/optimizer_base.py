"""The base of convnet's optimizers: slot variables aligned with the variables they update, and
the update applied per variable (learning-rate scales, training that stops at a step, every
replica's copy) under a `tf.distribute` strategy.

Subclasses (convnet.optim.optimizers: SGD, Adam, Adadelta; convnet.optim.muon: Muon) name
their `slot_names` and write `_update_local`.
"""

from collections.abc import Sequence

import tensorflow as tf


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
                        learning_rate: tf.Tensor, *, lr_scales: Sequence[float] | None = None,
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

            def update(grad=grad, var=var, slots=slots, rate=rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
                # Each device's copy of var, grad and slots (one call with no strategy).
                extended.update(var, self._update_local, args=(grad, slots, rate), group=False)
                return tf.constant(True)

            if until is None:
                update()
            else:
                tf.cond(done < until, update, lambda: tf.constant(False))

    def _update_local(self, var, grad, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
        self._update(tf.cast(grad, var.dtype), var, slots, learning_rate)

    def _update(self, grad, var, slots, learning_rate):  # noqa: PLR0917 (tf.distribute's update passes them positionally)
        raise NotImplementedError
