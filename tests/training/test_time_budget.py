"""--time_budget: durations, the probe's measurement, the horizon on a fake clock, the scaled
settings, and a resume that keeps the horizon."""

import json
import math
import os

import pytest

from convnet import training
from convnet.optim import schedules
from convnet.runtime import timing
from convnet.runtime.errors import DamagedFileError
from convnet.training import time_budget


@pytest.mark.parametrize("text, seconds", [("90s", 90.0), ("15m", 900.0), ("1.5h", 5400.0),
                                           ("600", 600.0), (" 2m ", 120.0), (".5h", 1800.0)])
def test_durations(text, seconds):
    assert time_budget.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "0m", "-5s", "1d", "1e3"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(ValueError, match="--time_budget=.*90s, 15m or 1.5h"):
        time_budget.parse_duration(text)


def test_bad_budget_is_refused_by_the_config(tmp_path):
    with pytest.raises(ValueError, match="--time_budget='soon'"):
        training.TrainConfig.from_settings(train_dir=str(tmp_path), time_budget="soon").validate()
    with pytest.raises(ValueError, match="not with --strategy=multi_worker"):
        training.TrainConfig.from_settings(train_dir=str(tmp_path), time_budget="15m",
                                           strategy="multi_worker").validate()


class FakeSteps:
    """A clock that only the steps move: the first call costs `compile_seconds` more."""

    def __init__(self, step_seconds, compile_seconds):
        self.time, self.step_seconds, self.compile_seconds = 0.0, step_seconds, compile_seconds
        self.calls = []

    def now(self):
        return self.time

    def run(self, steps):
        self.time += steps * self.step_seconds + (self.compile_seconds if not self.calls else 0)
        self.calls.append(steps)


def test_measure_times_steps_after_the_first_call():
    steps = FakeSteps(step_seconds=0.25, compile_seconds=7.0)
    measured = time_budget.measure(steps.run, steps.now, seconds=3.0)
    assert steps.calls == [1, 1, 12]  # 3 s of 0.25 s steps
    assert measured == time_budget.Measurement(7.25, 0.25, 12)


def test_probe_seconds_are_a_fraction_of_the_budget_clipped():
    assert time_budget.probe_seconds(10.0) == time_budget.MIN_PROBE_SECONDS
    assert time_budget.probe_seconds(600.0) == pytest.approx(600.0 * time_budget.PROBE_FRACTION)
    assert time_budget.probe_seconds(36000.0) == time_budget.MAX_PROBE_SECONDS


def test_plan_fits_the_steps_into_what_is_left():
    horizon = time_budget.plan(budget_seconds=100.0, spent_seconds=10.0, build_seconds=5.0,
                               step_seconds=0.5, unbudgeted_steps=1000)
    assert horizon.steps == math.floor(0.97 * 85.0 / 0.5) == 164
    assert horizon.scale == pytest.approx(0.164)
    with pytest.raises(ValueError, match="leaves no time for training.*larger budget"):
        time_budget.plan(60.0, 50.0, 10.0, step_seconds=0.5, unbudgeted_steps=1000)


def test_horizon_file_round_trip_and_damage(tmp_path):
    horizon = time_budget.plan(100.0, 10.0, 5.0, step_seconds=0.5, unbudgeted_steps=1000)
    time_budget.write(str(tmp_path), horizon)
    assert time_budget.read(str(tmp_path)) == horizon
    assert time_budget.read(str(tmp_path / "elsewhere")) is None
    path = tmp_path / time_budget.HORIZON_FILE
    no_steps = json.dumps({**json.loads(path.read_text()), "steps": 0}).encode()
    for damage in (b"\xff\xfe", b"{\"steps\": 3", json.dumps({"steps": 3}).encode(), no_steps):
        path.write_bytes(damage)
        with pytest.raises(DamagedFileError, match="horizon.json is damaged.*new --train_dir"):
            time_budget.read(str(tmp_path))
        assert path.read_bytes() == damage  # left where it is


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_source="synthetic", batch_size=32,
                  optimizer="adam", shuffle_buffer=64, log_frequency=5, num_parallel_calls=2,
                  max_steps=2000, lr_schedule="piecewise",
                  lr_boundary_epochs=(10.0,), lookahead_every=5, lookahead_start_epoch=4.0)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def test_time_scale_scales_every_step_and_epoch_count(tmp_path):
    plain = training.TrainingSetup(_config(tmp_path))
    half = training.TrainingSetup(_config(tmp_path), time_scale=0.25)
    per_epoch = plain.epochs.steps_per_epoch
    assert half.epochs == plain.epochs  # the data's epochs are the data's
    assert half.schedule_epochs.steps_per_epoch == pytest.approx(per_epoch * 0.25)
    assert (plain.max_steps, half.max_steps) == (2000, 500)
    assert (plain.schedule_steps, half.schedule_steps) == (2000, 500)
    assert plain.schedule.boundaries.numpy().tolist() == [int(10 * per_epoch)]
    assert half.schedule.boundaries.numpy().tolist() == [int(10 * per_epoch * 0.25)]
    assert half.state.lookahead.start_step == math.ceil(4 * per_epoch * 0.25)
    with pytest.raises(ValueError, match="positive examples an epoch, batch size and scale"):
        schedules.Epochs(100, 10, scale=0.0)


def test_epoch_budget_scales_the_settings_to_that_many_epochs(tmp_path):
    setup = training.TrainingSetup(_config(tmp_path, epoch_budget=0.5))
    assert setup.epochs.steps_per_epoch == 50000 / 32
    assert setup.max_steps == setup.schedule_steps == round(0.5 * 50000 / 32) == 781
    assert setup.schedule.boundaries.numpy().tolist() == [int(10 * 50000 / 32 * 781 / 2000)]
    with pytest.raises(ValueError, match="two budgets: give one"):
        _config(tmp_path, epoch_budget=2.0, time_budget="5m").validate()


@pytest.mark.slow
def test_budget_sets_the_horizon_from_the_probe_and_a_resume_keeps_it(tmp_path, monkeypatch,
                                                                        capsys):
    # A fake clock that only the steps move: 0.05 s a step, 3 s more for the first call.
    now = [1000.0]
    real_phases, real_run_steps = timing.Phases, training.TrainingSetup.run_steps
    calls = []

    def run_steps(setup, iterator, num_steps):
        now[0] += 0.05 * num_steps + (3.0 if not calls else 0.0)
        calls.append(num_steps)
        return real_run_steps(setup, iterator, num_steps)

    monkeypatch.setattr(training.TrainingSetup, "run_steps", run_steps)
    monkeypatch.setattr(timing, "Phases", lambda: real_phases(origin=1000.0,
                                                              clock=lambda: now[0]))
    trainer = training.Trainer(_config(tmp_path, time_budget="5m", max_steps=20000))
    horizon = time_budget.read(trainer.config.train_dir)
    # The probe: one step (compiling), one step, then 6 s (5m x PROBE_FRACTION) of 0.05 s steps.
    assert calls == [1, 1, 120]
    assert horizon == time_budget.Horizon(
        budget_seconds=300.0, spent_seconds=pytest.approx(3.05 + 0.05 + 6.0),
        build_seconds=pytest.approx(3.05), step_seconds=pytest.approx(0.05),
        unbudgeted_steps=20000, steps=math.floor(0.97 * (300 - 9.1 - 3.05) / 0.05))
    assert trainer.max_steps == trainer.setup.schedule_steps == horizon.steps == 5584
    assert trainer.setup.schedule.boundaries.numpy().tolist() == [
        int(10 * trainer.setup.epochs.steps_per_epoch * 5584 / 20000)]
    assert trainer.record.max_steps == 5584
    out = capsys.readouterr().out
    assert "time budget 300 s: a step takes 0.0500 s (120 steps timed; build and first call" in out
    assert "9.1 s spent); 5,584 steps, x0.2792 each step and epoch count" in out
    trainer.close()

    monkeypatch.setattr(timing, "Phases", real_phases)
    for budget in ("1h", ""):  # another budget, or none: the recorded horizon stands
        again = training.Trainer(_config(tmp_path, time_budget=budget, max_steps=20000))
        assert again.max_steps == 5584 and len(calls) == 3  # no second probe
        again.close()
        out = capsys.readouterr().out
        assert "keeps the horizon of its 300 s time budget" in out
        assert ("--time_budget=1h is not used" in out) == (budget == "1h")
    with pytest.raises(ValueError, match="fitted to a time budget.*without --epoch_budget"):
        training.Trainer(_config(tmp_path, epoch_budget=3.0))


def test_budget_refuses_a_train_dir_started_without_one(tmp_path):
    trainer = training.Trainer(_config(tmp_path, max_steps=2, lr_schedule="constant",
                                       lookahead_every=0))
    trainer.train()
    with pytest.raises(ValueError, match="started without one.*new --train_dir"):
        training.Trainer(_config(tmp_path, max_steps=2, lr_schedule="constant",
                                 lookahead_every=0, time_budget="5m"))
    assert not os.path.exists(os.path.join(trainer.config.train_dir, time_budget.HORIZON_FILE))
