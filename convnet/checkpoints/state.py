"""The restorable state of a run, assembled once for training, evaluation, inference and export.

A `State` holds the model, the moving averages of its weights (EMA), the step
and, when training, the optimizer, the lookahead average and the float16 loss
scale; `checkpoint` tracks them under the names every convnet checkpoint uses
(`step`, `model`, `optimizer`, `ema`, `loss_scale`, `lookahead`). Readers that
only need the weights build a `State` without the training parts and restore
checkpoints partially.
"""

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from convnet import models
from convnet.checkpoints.run_record import RunRecord
from convnet.optim.ema import MOVING_AVERAGE_DECAY, WeightEMA


@dataclasses.dataclass
class State:
    """Everything a checkpoint holds (the training parts are None for readers)."""
    model: object
    ema: WeightEMA
    step: tf.Variable  # int64 scalar: updates applied
    optimizer: object | None = None
    lookahead: object | None = None
    loss_scale: object | None = None
    checkpoint: tf.train.Checkpoint = dataclasses.field(init=False)

    def __post_init__(self):
        tracked = dict(step=self.step, model=self.model, ema=self.ema, optimizer=self.optimizer,
                       loss_scale=self.loss_scale, lookahead=self.lookahead)
        self.checkpoint = tf.train.Checkpoint(
            **{name: value for name, value in tracked.items() if value is not None})

    @property
    def variables(self):
        """The variables a checkpoint holds (model, optimizer, EMA, lookahead, step)."""
        parts = [self.model.variables, self.ema.variables, [self.step]]
        if self.optimizer is not None:
            parts.append(self.optimizer.variables)
        if self.lookahead is not None:
            parts.append(self.lookahead.variables)
        return [variable for part in parts for variable in part]


def build(model, input_shape: Sequence[int], ema_decay: float = MOVING_AVERAGE_DECAY,
          *, optimizer=None, lookahead=None, loss_scale=None) -> State:
    """Creates the variables of `model` (one call on zeros of `input_shape`, [H, W, C]),
    builds the EMA, optimizer and lookahead over them, and the step. Call it inside the
    strategy's scope."""
    model(tf.zeros([1, *input_shape]), training=False)
    ema = WeightEMA(ema_decay)
    ema.build(model.trainable_variables)
    if optimizer is not None:
        optimizer.build(model.trainable_variables)
    if lookahead is not None:
        lookahead.build(model.variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    return State(model, ema, step, optimizer, lookahead, loss_scale)


def for_reading(record: RunRecord, model_name: str | None = None,
                num_classes: int | None = None):
    """(State, Preprocessing) of the model that `record`'s run trained (or `model_name`
    with `num_classes`), without the training parts, ready to restore partially."""
    info = record.dataset_info()
    model = models.build_model(model_name or record.model, num_classes or info.num_classes)
    preprocessing = record.preprocessing_for(model.image_size, info.image_shape[0])
    size = preprocessing.image_size
    return build(model, [size, size, info.image_shape[-1]]), preprocessing
