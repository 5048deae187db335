"""Learning-rate schedules at given steps; epochs converted to steps at the batch size."""

import pytest

from convnet.optim import schedules


def test_tutorial_decay_schedule():
    assert schedules.decay_steps_for(schedules.Epochs(50000, 128), 350.0) == 136718
    schedule = schedules.make_schedule("exponential", 0.1, schedules.Epochs(50000, 128))
    for step, expected in [(0, 0.1), (136717, 0.1), (136718, 0.01), (2 * 136718, 0.001)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)
    constant = schedules.make_schedule("constant", 0.05)
    assert float(constant(10 ** 6)) == pytest.approx(0.05)


def test_piecewise_schedule_in_epochs():
    # 50,000 examples at batch 128: epoch 150 = step 58,593, epoch 225 = step 87,890.
    schedule = schedules.make_schedule("piecewise", 0.1, schedules.Epochs(50000, 128),
                                      boundary_epochs=(150, 225))
    for step, expected in [(0, 0.1), (58592, 0.1), (58593, 0.01), (87889, 0.01),
                           (87890, 0.001), (10 ** 6, 0.001)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="lr_boundary_epochs"):
        schedules.make_schedule("piecewise", 0.1)


def test_cosine_schedule():
    schedule = schedules.make_schedule("cosine", 0.2, total_steps=100)
    for step, expected in [(0, 0.2), (50, 0.1), (100, 0.0), (150, 0.0)]:
        assert float(schedule(step)) == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ValueError, match="unknown --lr_schedule"):
        schedules.make_schedule("linear", 0.1)


def test_warmup_linear_schedule_points():
    schedule = schedules.make_schedule("warmup_linear", 2.0, total_steps=100)
    # int(0.23 * 100) = 23 warm-up steps from 0.2x to 1x, then down to 0.07x at step 100.
    for step, factor in ((0, 0.2), (23, 1.0), (100, 0.07), (150, 0.07),
                         (11.5, 0.2 + 0.8 * 11.5 / 23), (61.5, 1.0 - 0.93 * 38.5 / 77)):
        assert float(schedule(step)) == pytest.approx(2.0 * factor, rel=1e-5), step
    with pytest.raises(ValueError, match="lr_warmup_fraction"):
        schedules.WarmupLinear(1.0, 10, warmup_fraction=1.0)


def test_epochs_are_the_split_in_steps_of_the_batch():
    epochs = schedules.Epochs(50000, 128)
    assert epochs.steps_per_epoch == 50000 / 128 and epochs.to_steps(2.5) == 2.5 * 50000 / 128
    assert schedules.Epochs(1000, 100).to_steps(1.25) == 12.5
    with pytest.raises(ValueError, match="positive examples an epoch, batch size and scale"):
        schedules.Epochs(1000, 0)
