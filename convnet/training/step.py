"""The training step: a `tf.function` that runs several updates of a `State` without Python.

Loss = mean sparse softmax cross-entropy (optionally label-smoothed) + sum(wd *
l2_loss(w)) over decayed weights, through `tf.nn.compute_average_loss` (global
batch) and `tf.nn.scale_regularization_loss`, so any number of replicas gives
the same gradients. Each replica computes its gradients (XLA-compiled with
`xla`, in float16/bfloat16 with `compute_dtype`), they are summed across
replicas, and the update (optimizer, step, lookahead, EMA) is applied once in
cross-replica context. A step whose loss or gradients are not finite is never
applied; with nan_policy 'stop' the round stops there.

No wasted backward pass: a variable frozen by its group (`train_epochs`) gets no gradient
from the calls that start at or after its last trained step. The gradient is then asked only
of the variables still trained, so the backward pass stops at the lowest layer that holds
one of them (airbench's `whiten_bias_grad`: once its whitening bias is frozen, fast93's first
conv computes no input gradient). Each set of frozen variables is its own trace of the step.

Progressive resizing (`image_sizes`, convnet.data.progressive_resizing): the updates of a
stage resize each replica's batch to the stage's size before the forward pass, one trace of
the step a size.

Each call also returns `StepMetrics`, accumulated in the graph: the last
batch's cross-entropy and weight-decay terms, and the top-1 hits and examples
of all its batches (TensorBoard's training scalars, convnet.training.summaries); with
`keep_batch`, the last batch of the first replica too (for histograms).

`convnet.training.Trainer` loops over it; `convnet.bench` times it directly.
"""

import functools
from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

from convnet.checkpoints.state import State
from convnet.data import progressive_resizing
from convnet.nn import losses
from convnet.optim import variable_groups
from convnet.runtime import distribute

# Images of the last batch returned with each round (for TensorBoard).
SUMMARY_IMAGES = 3


class TrainStep:
    """`step(iterator, num_steps)` runs `num_steps` global batches of `iterator`.

    Args:
      state: the model, optimizer, EMA, lookahead, loss scale and step to update.
      schedule: step -> learning rate.
      batch_size: the global batch (the loss is averaged over it).
      strategy: the `tf.distribute.Strategy` the state was built under (default: the current
        one, `tf.distribute.get_strategy()`).
      groups: `variable_groups.Assignment` of the trainable variables (default: every variable
        at the schedule's rate and its own weight decay, trained to the end).
      label_smoothing: in [0, 1).
      compute_dtype: the dtype of the forward pass (float32, float16, bfloat16).
      stop_on_non_finite: end the round at the first non-finite loss (nan_policy 'stop').
      xla: compile the step (default strategy) or the gradients (others) with XLA.
      keep_batch: return the last batch (first replica) in the StepMetrics.
      image_sizes: progressive resizing's ((size, end step), ...)
        (`progressive_resizing.stage_ends`): updates before a stage's end step (and after
        the previous one's) train on batches resized to size x size; () trains at the full size.
    """

    def __init__(self, state: State, schedule, *, batch_size: int,
                 strategy: tf.distribute.Strategy | None = None,
                 groups: variable_groups.Assignment | None = None, label_smoothing: float = 0.0,
                 compute_dtype: tf.DType = tf.float32, stop_on_non_finite: bool = True,
                 xla: bool = False, keep_batch: bool = False,
                 image_sizes: Sequence[tuple[int, int]] = ()):
        self.keep_batch, self.image_sizes = keep_batch, tuple(image_sizes)
        strategy = strategy or tf.distribute.get_strategy()
        self.variables = state.model.trainable_variables
        if groups is None:
            groups = variable_groups.assign((), self.variables, epochs=None)
        self.state, self.strategy, self.schedule, self.groups = state, strategy, schedule, groups
        self.batch_size, self.label_smoothing = batch_size, label_smoothing
        self.compute_dtype, self.stop_on_non_finite = compute_dtype, stop_on_non_finite
        # XLA: the whole step under the default strategy; under a distribution
        # strategy only the gradient computation (the all-reduce and update stay outside).
        replicated = (strategy is not tf.distribute.get_strategy()
                      or strategy.num_replicas_in_sync > 1)
        self._gradients_fn = (tf.function(self._gradients_and_terms, jit_compile=True)
                              if xla and replicated else self._gradients_and_terms)
        self._replica_step_fn = (tf.function(self._replica_step, jit_compile=True)
                                 if xla and not replicated else self._replica_step)
        self._rounds = {}  # (trained(step), image_size(step)) -> the round's tf.function

    def trained(self, step: int) -> tuple[bool, ...]:
        """Per trainable variable, whether an update after `step` updates changes it (False
        once its group's `train_epochs` are over)."""
        return tuple(until is None or step < until for until in self.groups.train_until_steps)

    def image_size(self, step: int) -> int | None:
        """The size the update after `step` resizes its batch to (`image_sizes`), or None."""
        return progressive_resizing.size_at(self.image_sizes, step)

    def loss_terms(self, images, labels, global_batch_size=None):
        """This replica's shares of the loss: (its examples' cross-entropy / global batch,
        weight decay / replicas), and (its top-1 hits, its examples) as float32.

        `global_batch_size` (default: the step's) is what the cross-entropy is averaged over;
        the batch's own size gives the loss of this batch alone (convnet.training.summaries)."""
        logits = self.state.model(tf.cast(images, self.compute_dtype), training=True)
        cross_entropy = losses.cross_entropy(labels, logits, self.label_smoothing)
        if global_batch_size is None:
            global_batch_size = self.batch_size
        data_loss = tf.nn.compute_average_loss(cross_entropy, global_batch_size=global_batch_size)
        decay = tf.nn.scale_regularization_loss(
            variable_groups.weight_decay_loss(self.variables, self.groups.decay_scales))
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int64)
        hits = tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int64)), tf.float32))
        examples = tf.cast(tf.size(labels), tf.float32)
        return data_loss, decay, hits, examples

    def loss(self, images, labels):
        """This replica's share of the loss: cross-entropy / global batch + its weight decay."""
        data_loss, decay, _, _ = self.loss_terms(images, labels)
        return data_loss + decay

    def gradients(self, images, labels, trained=None):
        """(loss, float32 gradients) of this replica's share of the loss; with `trained` (one
        bool a variable, see `trained`) zeros for the others, whose gradient is not computed."""
        loss, grads, _ = self._gradients_and_terms(images, labels, trained)
        return loss, grads

    def _gradients_and_terms(self, images, labels, trained=None):
        """(loss, float32 gradients, loss_terms) of this replica's share of the loss (zeros
        for the variables `trained` marks False)."""
        loss_scale = self.state.loss_scale
        trained = trained or (True,) * len(self.variables)
        sources = [var for var, on in zip(self.variables, trained, strict=True) if on]
        with tf.GradientTape() as tape:
            terms = self.loss_terms(images, labels)
            loss = terms[0] + terms[1]
            scaled = loss_scale.scale(loss) if loss_scale is not None else loss
        computed = iter(tape.gradient(scaled, sources))
        grads = [next(computed) if on else tf.zeros_like(var)
                 for var, on in zip(self.variables, trained, strict=True)]
        if loss_scale is not None:
            grads = loss_scale.unscale(grads)
        return loss, grads, terms

    def _replica_step(self, images, labels, trained=None):
        """One update; returns (total loss, whether it was finite, whether applied, the
        summed loss_terms)."""
        loss, grads, terms = self._gradients_fn(images, labels, trained)
        context = tf.distribute.get_replica_context()
        loss, grads, terms = context.all_reduce(tf.distribute.ReduceOp.SUM, (loss, grads, terms))
        loss_finite = tf.math.is_finite(loss)
        grads_finite = tf.math.is_finite(tf.linalg.global_norm(grads))
        applied = context.merge_call(self._apply_update, args=(grads, loss_finite, grads_finite))
        return loss, loss_finite, applied, terms

    def _apply_update(self, strategy, grads, loss_finite, grads_finite):  # noqa: PLR0917 (merge_call passes its args by position)
        """Cross-replica: the loss scale's update, then the step if everything is finite."""
        state = self.state
        loss_finite, grads_finite = distribute.first_replica_value(
            strategy, (loss_finite, grads_finite))
        if state.loss_scale is not None:
            state.loss_scale.update(grads_finite)

        def update():
            state.optimizer.apply_gradients(grads, self.variables, self.schedule(state.step),
                                            lr_scales=self.groups.lr_scales,
                                            train_until=self.groups.train_until_steps)
            state.step.assign_add(1)
            if state.lookahead is not None:
                state.lookahead.apply(state.model.variables, state.step)
            state.ema.apply(self.variables, state.step)
            return tf.constant(True)

        return tf.cond(tf.logical_and(loss_finite, grads_finite), update,
                       lambda: tf.constant(False))

    def _one_step(self, batch, trained):
        """(loss, finite, 1 if not applied else 0, first images, loss terms) of one batch."""
        loss, finite, applied, terms = distribute.first_replica_value(
            self.strategy, self.strategy.run(self._replica_step_fn, args=batch,
                                             kwargs=dict(trained=trained)))
        images = distribute.first_replica_value(self.strategy, batch[0])[:SUMMARY_IMAGES]
        return loss, finite, tf.cast(tf.logical_not(applied), tf.int64), images, terms

    def _kept(self, batch):
        """The first replica's batch when `keep_batch`, else empty tensors."""
        if not self.keep_batch:
            return tf.zeros([0]), tf.zeros([0], tf.int64)
        images, labels = distribute.first_replica_value(self.strategy, batch)
        return tf.cast(images, tf.float32), tf.cast(labels, tf.int64)

    def __call__(self, iterator, num_steps: int | tf.Tensor) -> "StepResult":
        """Runs `num_steps` (an int or an int64 tensor) batches and returns a `StepResult`.

        The variables frozen at the state's step get no gradient, and the batches are
        resized to the state's step's `image_size` (see the module): a round must not cross
        a freezing step or a stage's end (convnet.training.Trainer ends its rounds there).
        """
        step = int(self.state.step.numpy())
        key = (self.trained(step), self.image_size(step))
        if key not in self._rounds:
            self._rounds[key] = tf.function(functools.partial(self._round, trained=key[0],
                                                              size=key[1]))
        # a tensor, so that another count does not trace the step again
        return self._rounds[key](iterator, tf.cast(num_steps, tf.int64))

    def _next_batch(self, iterator, size):
        """The iterator's next batch, each replica's images resized to `size` unless None
        (outside the XLA-compiled part: XLA has no kernel for tf.image.resize's antialiasing)."""
        images, labels = next(iterator)
        if size is not None:
            images = self.strategy.run(lambda x: progressive_resizing.resize(x, size),
                                       args=(images,))
        return images, labels

    def _round(self, iterator, num_steps, trained, *, size):
        batch = self._next_batch(iterator, size)
        loss, finite, skipped, images, terms = self._one_step(batch, trained)
        data_loss, decay = terms[0], terms[1]
        hits, examples = tf.cast(terms[2], tf.int64), tf.cast(terms[3], tf.int64)
        kept_images, kept_labels = self._kept(batch)
        trailing = skipped  # skipped since the last applied step
        for _ in tf.range(num_steps - 1):
            tf.autograph.experimental.set_loop_options(shape_invariants=[
                (kept_images, tf.TensorShape(None)), (kept_labels, tf.TensorShape(None))])
            if self.stop_on_non_finite and not finite:
                break
            batch = self._next_batch(iterator, size)
            loss, finite, more_skipped, images, terms = self._one_step(batch, trained)
            data_loss, decay = terms[0], terms[1]
            hits += tf.cast(terms[2], tf.int64)
            examples += tf.cast(terms[3], tf.int64)
            kept_images, kept_labels = self._kept(batch)
            skipped += more_skipped
            trailing = (trailing + 1) * more_skipped
        metrics = StepMetrics(data_loss, decay, hits, examples, kept_images, kept_labels)
        return StepResult(loss=loss, finite=finite, skipped=skipped, trailing_skipped=trailing,
                          images=images, metrics=metrics)


class StepMetrics(NamedTuple):
    """What a call of the step adds for TensorBoard: the last batch's cross_entropy and
    weight_decay (their sum is the loss), the top-1 hits and examples of all its batches,
    and (with keep_batch) the last batch's images and labels (first replica)."""
    cross_entropy: tf.Tensor
    weight_decay: tf.Tensor
    hits: tf.Tensor
    examples: tf.Tensor
    images: tf.Tensor
    labels: tf.Tensor


class StepResult(NamedTuple):
    """What a call of the step (a round of `num_steps` batches) returns.

    loss: float32 [], the last batch's loss (cross-entropy plus weight decay).
    finite: bool [], whether that loss is finite (the step stops at the first one that is not,
        under stop_on_non_finite).
    skipped: int64 [], batches of the round whose update was not applied (a non-finite loss, or
        a float16 loss-scale overflow).
    trailing_skipped: int64 [], of those, the ones after the round's last applied update.
    images: [n, H, W, C], the first SUMMARY_IMAGES preprocessed images of
        the last batch (first replica), for the image summary.
    metrics: StepMetrics, what the round adds for TensorBoard.
    """
    loss: tf.Tensor
    finite: tf.Tensor
    skipped: tf.Tensor
    trailing_skipped: tf.Tensor
    images: tf.Tensor
    metrics: StepMetrics
