"""Variable groups: parsing, per-variable learning rates, decay and epoch-limited training."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import ops
from convnet.optim import optimizers, variable_groups
from convnet.optim.schedules import Epochs


def test_parse_and_errors():
    groups = variable_groups.parse("beta:lr_scale=64 ; whiten.*bias:train_epochs=3,decay_scale=0")
    assert groups == [variable_groups.VariableGroup("beta", lr_scale=64.0),
                      variable_groups.VariableGroup("whiten.*bias", decay_scale=0.0,
                                                    train_epochs=3.0)]
    assert variable_groups.parse("") == [] and variable_groups.parse(None) == []
    for bad, message in (("beta", "not PATTERN"), ("beta:speed=2", "not key=value"),
                         ("beta:lr_scale=x", "not a number"), ("(:lr_scale=2", "regular"),
                         ("beta:lr_scale=0", "lr_scale must be > 0")):
        with pytest.raises(ValueError, match=message):
            variable_groups.parse(bad)


def _variables():
    with tf.name_scope("net"):
        kernel = ops.variable_with_weight_decay("kernel", [2], 0.0, wd=0.5)
        beta = tf.Variable([0.0, 0.0], name="norm/beta")
        setattr(beta, ops.WEIGHT_DECAY_ATTR, 0.5)
        bias = tf.Variable([0.0], name="whiten/bias")
    kernel.assign([1.0, 2.0])
    beta.assign([3.0, 4.0])
    bias.assign([5.0])
    return [kernel, beta, bias]


def test_assignment_first_match_wins_and_decay_follows_the_lr_scale():
    variables = _variables()
    groups = variable_groups.parse("beta:lr_scale=64;bias:train_epochs=2.5;.*:lr_scale=3")
    got = variable_groups.assign(groups, variables, Epochs(400, 100))
    assert got.lr_scales == (3.0, 64.0, 1.0)
    assert got.decay_scales == (1 / 3, 1 / 64, 1.0)
    assert got.train_until_steps == (None, None, 10)
    assert variable_groups.unmatched(variable_groups.parse("gamma:lr_scale=2"), variables) == \
        ["gamma"]
    loss = variable_groups.weight_decay_loss(variables, got.decay_scales)
    expected = 0.5 / 3 * 0.5 * (1 + 4) + 0.5 / 64 * 0.5 * (9 + 16)  # bias carries no wd
    assert float(loss) == pytest.approx(expected)


def test_sgd_updates_each_group_and_stops_a_frozen_one():
    kernel, beta, bias = _variables()
    variables = [kernel, beta, bias]
    sgd = optimizers.SGD(momentum=0.5, nesterov=True)
    sgd.build(variables)
    grads = [tf.constant([1.0, 1.0]), tf.constant([1.0, 1.0]), tf.constant([1.0])]
    lr, scales, until = 0.1, [1.0, 64.0, 1.0], [None, None, 2]
    expected = [v.numpy().copy() for v in variables]
    velocity = [np.zeros_like(e) for e in expected]
    for step in range(4):
        sgd.apply_gradients(grads, variables, tf.constant(lr), lr_scales=scales, train_until=until)
        for i, grad in enumerate(grads):
            if until[i] is not None and step >= until[i]:
                continue  # frozen: neither the weights nor the momentum move
            rate = lr * scales[i]
            velocity[i] = 0.5 * velocity[i] - rate * grad.numpy()
            expected[i] = expected[i] + 0.5 * velocity[i] - rate * grad.numpy()
        for var, want in zip(variables, expected, strict=True):
            np.testing.assert_allclose(var.numpy(), want, rtol=1e-6)
    assert bias.numpy()[0] == pytest.approx(5.0 - 0.15 - 0.175)  # 2 updates, then frozen
