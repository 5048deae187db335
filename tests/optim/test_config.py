"""OptimConfig: the optimisation settings, their checks and the objects they make."""

import math

import pytest

from convnet import models
from convnet.optim import lookahead, optimizers, schedules
from convnet.optim.config import OptimConfig


@pytest.mark.parametrize("overrides, message", [
    (dict(optimizer="rmsprop"), "unknown --optimizer='rmsprop': choose from auto, sgd, adam"),
    (dict(lr_schedule="step"), "unknown --lr_schedule='step'"),
    (dict(learning_rate=0.0), "--learning_rate must be positive, got 0.0"),
    (dict(weight_decay=-1e-4), "--weight_decay must be >= 0"),
    (dict(lookahead_every=-1), "--lookahead_every must be >= 0"),
    (dict(label_smoothing=1.0), r"--label_smoothing must be in \[0, 1\)"),
    (dict(decoupled_hyperparameters=True, momentum=0.9), "form of SGD with momentum"),
])
def test_validate_names_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        OptimConfig(**overrides).validate()


def test_boundary_epochs_from_the_command_line_become_floats():
    assert OptimConfig(lr_boundary_epochs=["150", "225.5"]).lr_boundary_epochs == (150.0, 225.5)


def test_learning_rate_and_weight_decay_by_form():
    assert OptimConfig(optimizer="sgd").learning_rate_at(128) == \
        optimizers.default_learning_rate("sgd")
    assert OptimConfig(optimizer="adam").learning_rate_at(128) == optimizers.ADAM_LEARNING_RATE
    assert OptimConfig("sgd", 0.3, weight_decay=5e-4).learning_rate_at(512) == 0.3
    assert OptimConfig(learning_rate=0.3, weight_decay=5e-4).weight_decay_at(512) == 5e-4
    decoupled = OptimConfig("sgd", 11.5, weight_decay=0.0153, momentum=0.85,
                            decoupled_hyperparameters=True)
    # the per-1,024-examples form (optimizers.from_decoupled)
    kilostep = 1024 * (1 + 1 / (1 - 0.85))
    assert decoupled.learning_rate_at(1024) == pytest.approx(11.5 * 1024 / kilostep)
    assert decoupled.weight_decay_at(1024) == pytest.approx(0.0153 / 11.5)


def test_the_schedule_spans_the_given_steps():
    piecewise = OptimConfig("sgd", 0.1, lr_schedule="piecewise",
                            lr_boundary_epochs=(1.0, 2.0), lr_decay_factor=0.1)
    schedule = piecewise.make_schedule(schedules.Epochs(1000, 100), total_steps=30)
    assert [float(schedule(step)) for step in (9, 10, 19, 20)] == pytest.approx(
        [0.1, 0.01, 0.01, 0.001])
    exponential = OptimConfig("sgd", 1.0, lr_decay=True, num_epochs_per_decay=2.0,
                              lr_decay_factor=0.5)
    assert exponential.schedule_name == "exponential"
    schedule = exponential.make_schedule(schedules.Epochs(1000, 100), total_steps=0)
    assert isinstance(schedule, schedules.ExponentialStaircase)
    assert [float(schedule(step)) for step in (19, 20, 40)] == pytest.approx([1.0, 0.5, 0.25])
    cosine = OptimConfig("sgd", 2.0, lr_schedule="cosine").make_schedule(
        schedules.Epochs(100, 10), 40)
    assert float(cosine(20)) == pytest.approx(2.0 * (1 + math.cos(math.pi / 2)) / 2)


def test_lookahead_only_when_asked_starting_at_its_epoch():
    assert OptimConfig().make_lookahead(100, schedules.Epochs(100, 10)) is None
    averaged = OptimConfig(lookahead_every=5, lookahead_start_epoch=1.25).make_lookahead(
        100, schedules.Epochs(100, 10))
    assert isinstance(averaged, lookahead.Lookahead)
    assert averaged.start_step == 13  # ceil(1.25 x 10)


def test_the_optimizer_is_the_named_one():
    sgd = OptimConfig("sgd", momentum=0.9, nesterov=True).make_optimizer()
    assert isinstance(sgd, optimizers.Optimizer) and sgd.momentum == 0.9 and sgd.nesterov
    assert isinstance(OptimConfig(optimizer="adam").make_optimizer(), optimizers.Optimizer)


class _Prefers(models.Model):
    preferred_optimizer = "adam"


def test_auto_is_the_models_preferred_optimizer_or_sgd():
    auto = OptimConfig(momentum=0.5)
    assert auto.optimizer == "auto"
    assert auto.for_model(_Prefers()) == OptimConfig("adam", momentum=0.5)
    assert auto.for_model(models.build_model("resnet20")).optimizer == "sgd"  # names none
    assert models.build_model("lenet5").preferred_optimizer == "adam"
    assert OptimConfig("muon").for_model(_Prefers()).optimizer == "muon"  # named: kept
    assert OptimConfig().for_model(_Prefers()).learning_rate_at(128) == \
        optimizers.ADAM_LEARNING_RATE


def test_auto_must_be_resolved_before_the_optimizer_is_made():
    with pytest.raises(ValueError, match=r"OptimConfig.for_model\(model\) first"):
        OptimConfig().make_optimizer()
    with pytest.raises(ValueError, match=r"OptimConfig.for_model\(model\) first"):
        OptimConfig().learning_rate_at(128)


def test_a_preference_convnet_lacks_or_that_breaks_a_rule_is_one_error():
    class Odd(models.Model):
        preferred_optimizer = "rmsprop"

    with pytest.raises(ValueError, match=r"Odd.preferred_optimizer='rmsprop' is not one of "
                                         r"convnet's optimizers \(sgd, adam"):
        OptimConfig().for_model(Odd())
    decoupled = OptimConfig(learning_rate=11.5, momentum=0.85, decoupled_hyperparameters=True)
    with pytest.raises(ValueError, match="form of SGD with momentum: pass --optimizer=sgd"):
        decoupled.for_model(_Prefers())
    with pytest.raises(TypeError, match="preferred_optimizer must be None or an optimizer's"):
        type("Bad", (models.Model,), {"preferred_optimizer": 3})
