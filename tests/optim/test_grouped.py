"""Per-group optimizers: each variable moved by its group's optimizer, checkpointed exactly."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.optim import config, grouped, muon, optimizers, variable_groups


def _variables():
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.normal(size=(3, 3, 2, 4)).astype(np.float32), name="conv/kernel"),
            tf.Variable(rng.normal(size=(4,)).astype(np.float32), name="conv/bias"),
            tf.Variable(rng.normal(size=(4, 5)).astype(np.float32), name="head/kernel")]


def _grads(seed):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in _variables()]


SPEC = "conv/kernel:optimizer=muon,momentum=0.6,nesterov=1,lr_scale=0.5"


def test_each_group_moves_by_its_own_optimizer():
    groups = variable_groups.parse(SPEC)
    variables = _variables()
    opt = grouped.Grouped(("sgd", 0.85, True), groups)
    opt.build(variables)
    assert [type(p) for p in opt.parts] == [muon.Muon, optimizers.SGD]
    assert opt.setting_of(variables[0]) == ("muon", 0.6, True)
    assert opt.setting_of(variables[2]) == ("sgd", 0.85, True)
    scales = variable_groups.assign(groups, variables, None).lr_scales

    alone = _variables()
    kernel_opt, rest_opt = muon.Muon(0.6, True), optimizers.SGD(0.85, True)
    kernel_opt.build(alone[:1])
    rest_opt.build(alone[1:])
    for seed in range(3):
        grads = _grads(seed)
        opt.apply_gradients(grads, variables, tf.constant(0.1), lr_scales=scales)
        kernel_opt.apply_gradients(grads[:1], alone[:1], tf.constant(0.1 * 0.5))
        rest_opt.apply_gradients(grads[1:], alone[1:], tf.constant(0.1))
    for got, want in zip(variables, alone, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert int(opt.iterations) == 3 and [int(p.iterations) for p in opt.parts] == [3, 3]


def test_a_frozen_group_stops_inside_its_part():
    groups = variable_groups.parse("conv/kernel:optimizer=muon,momentum=0.6")
    variables = _variables()
    before = variables[0].numpy()
    opt = grouped.Grouped(("sgd", 0.0, False), groups)
    opt.build(variables)
    opt.apply_gradients(_grads(0), variables, tf.constant(0.1), lr_scales=None, train_until=[0,
                                                                                             None,
                                                                                             None])
    np.testing.assert_array_equal(variables[0].numpy(), before)
    assert not np.array_equal(variables[2].numpy(), _variables()[2].numpy())


def test_checkpoint_round_trip_resumes_exactly(tmp_path):
    groups = variable_groups.parse(SPEC)
    variables, opt = _variables(), grouped.Grouped(("sgd", 0.85, True), groups)
    opt.build(variables)
    opt.apply_gradients(_grads(0), variables, tf.constant(0.1))
    path = tf.train.Checkpoint(optimizer=opt, v=variables).save(str(tmp_path / "ckpt"))
    opt.apply_gradients(_grads(1), variables, tf.constant(0.1))
    uninterrupted = [v.numpy() for v in variables]

    resumed_vars, resumed = _variables(), grouped.Grouped(("sgd", 0.85, True), groups)
    resumed.build(resumed_vars)
    tf.train.Checkpoint(optimizer=resumed, v=resumed_vars).restore(path).assert_consumed()
    resumed.apply_gradients(_grads(1), resumed_vars, tf.constant(0.1))
    for got, want in zip(resumed_vars, uninterrupted, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_optim_config_makes_a_grouped_optimizer_only_when_a_group_sets_one():
    plain = config.OptimConfig(optimizer="sgd", momentum=0.9,
                               variable_groups="beta:lr_scale=64").make_optimizer()
    assert isinstance(plain, optimizers.SGD)
    made = config.OptimConfig(optimizer="sgd", momentum=0.9, variable_groups=SPEC).make_optimizer()
    assert isinstance(made, grouped.Grouped) and made.default == ("sgd", 0.9, False)


@pytest.mark.parametrize("spec,message", [
    ("k:optimizer=rmsprop", "unknown optimizer='rmsprop'"),
    ("k:nesterov=2", "nesterov='2' is not 1 or 0"),
    ("k:momentum=1", "momentum must be in"),
    ("k:momentum=fast", "is not a number"),
])
def test_group_optimizer_settings_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        variable_groups.parse(spec)
    with pytest.raises(ValueError, match=message):
        config.OptimConfig(variable_groups=spec).validate()
