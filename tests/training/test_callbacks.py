"""convnet.training.callbacks: the loop's jobs as objects in one list, a user's among them."""

import os

import numpy as np
import pytest

import convnet
from convnet import training
from convnet.checkpoints import files as checkpoint_files
from convnet.training import callbacks
from convnet.training.callbacks import Callback


class Every(Callback):
    def __init__(self, every=None, at=None):
        self.every, self.at = every, at

    def next_step(self, step, max_steps):
        if self.at is not None:
            return next((s for s in self.at if s > step), None)
        return super().next_step(step, max_steps)


def test_rounds_end_at_the_first_step_any_callback_names():
    jobs = [Every(every=4), Every(at=(6, 9)), Every()]  # the last names no step
    ends = [callbacks.round_end(jobs, step, 10, extra=(7,))[0] for step in (0, 4, 6, 7, 8, 9)]
    assert ends == [4, 6, 7, 8, 9, 10]
    assert callbacks.round_end(jobs, 8, 10)[1] == [10, 9, None]  # every=4 stops at max_steps


def test_callbacks_are_checked():
    assert callbacks.check(None) == [] and len(callbacks.check((Every(),))) == 1
    with pytest.raises(TypeError, match="is not a convnet.training.Callback"):
        callbacks.check([lambda progress: None])
    for every in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"Every.every must be a positive int \(steps\)"):
            callbacks.check([Every(every=every)])


class Recorder(Callback):
    """Records what the loop shows it; stops the run at `stop_at`."""

    every = 3

    def __init__(self, stop_at=None):
        self.stop_at, self.begun, self.ended = stop_at, [], []
        self.rounds, self.steps = [], []

    def on_train_begin(self, progress):
        self.begun.append(progress.step)

    def on_round(self, progress):
        self.rounds.append((progress.step, progress.round_steps))
        assert int(progress.state.step.numpy()) == progress.step
        assert np.isfinite(progress.loss) and int(progress.result.metrics.examples) > 0

    def on_step(self, progress):
        self.steps.append(progress.step)
        assert progress.epoch == pytest.approx(progress.step / progress.steps_per_epoch)
        if progress.step == self.stop_at:
            progress.stop(f"asked to at step {progress.step}")

    def on_train_end(self, progress):
        self.ended.append(progress.step)


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "run"), model="lenet5", data_source="synthetic",
                  max_steps=10, batch_size=8, log_frequency=5, save_checkpoint_steps=100,
                  shuffle_buffer=16, num_parallel_calls=2)
    return training.TrainConfig.from_settings(**{**values, **overrides})


@pytest.mark.slow
def test_a_callback_runs_at_its_steps_sees_each_round_and_can_stop_the_run(tmp_path):
    recorder = Recorder()
    with training.Trainer(_config(tmp_path), callbacks=[recorder]) as trainer:
        assert trainer.train() == 10
    # Rounds end at its steps (3, 6, 9), the log's (5) and the last (10).
    assert recorder.rounds == [(3, 3), (5, 2), (6, 1), (9, 3), (10, 1)]
    assert recorder.steps == [3, 6, 9, 10] and recorder.begun == [0] and recorder.ended == [10]

    stopper = Recorder(stop_at=6)
    result = convnet.fit(_config(tmp_path / "stopped"), callbacks=[stopper])
    assert (result.step, result.stop_reason) == (6, "asked to at step 6")
    assert stopper.steps == [3, 6] and stopper.ended == [6]
    train_dir = str(tmp_path / "stopped" / "run")
    assert checkpoint_files.latest_checkpoint(train_dir) == os.path.join(train_dir, "ckpt-6")
    resumed = Recorder()
    result = convnet.fit(_config(tmp_path / "stopped"), callbacks=[resumed])
    assert (result.step, result.stop_reason) == (10, None)
    assert resumed.begun == [6] and resumed.steps == [9, 10]
