"""--profile_steps: the profiler runs around exactly the calls of steps START+1..END."""

import os

import pytest
import tensorflow as tf

from convnet import profiling, training


def test_the_profiler_starts_at_start_and_stops_at_end(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.profiler.experimental, "start", lambda d: calls.append(("start", d)))
    monkeypatch.setattr(tf.profiler.experimental, "stop", lambda: calls.append(("stop",)))
    profiler = profiling.StepProfiler((3, 6), "/logs")
    assert list(profiler.boundaries()) == [3, 6]
    for began, ended in ((0, 3), (3, 5), (5, 6), (6, 9)):
        profiler.before(began)
        calls.append(("ran", began, ended))
        profiler.after(ended)
    assert calls == [("ran", 0, 3), ("start", "/logs"), ("ran", 3, 5), ("ran", 5, 6), ("stop",),
                     ("ran", 6, 9)]


def test_a_resumed_run_inside_the_range_profiles_to_the_end_and_off_does_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.profiler.experimental, "start", lambda d: calls.append("start"))
    monkeypatch.setattr(tf.profiler.experimental, "stop", lambda: calls.append("stop"))
    resumed = profiling.StepProfiler((3, 6), "/logs")
    resumed.before(4)
    resumed.close()  # an interrupted run still writes its trace
    off = profiling.StepProfiler((3, 6), "/logs", enabled=False)
    off.before(3)
    off.after(6)
    assert calls == ["start", "stop"] and not off.boundaries()


def test_training_rounds_end_at_the_profile_steps_and_write_a_trace(tmp_path, cifar_dir,
                                                                    monkeypatch):
    config = training.TrainConfig(
        train_dir=str(tmp_path / "train"), data_dir=cifar_dir[0], download=False,
        model="simple3", max_steps=8, batch_size=8, optimizer="adam", shuffle_buffer=40,
        log_frequency=100, save_checkpoint_steps=100, num_parallel_calls=2,
        profile_steps="3,5")
    trainer = training.Trainer(config)
    rounds = []
    step_fn = trainer.train_step

    def recorded(iterator, num_steps):
        rounds.append(int(num_steps))
        return step_fn(iterator, num_steps)

    monkeypatch.setattr(trainer, "train_step", recorded)
    assert trainer.train() == 8
    assert rounds == [3, 2, 3]
    profile = os.path.join(config.train_dir, "plugins", "profile")
    traces = [name for _, _, names in os.walk(profile) for name in names]
    assert any(name.endswith(".xplane.pb") for name in traces)


@pytest.mark.parametrize("steps", ["5,3", "1", "a,b", "-1,2", "1,2,3"])
def test_bad_profile_steps_are_refused(tmp_path, steps):
    with pytest.raises(ValueError, match="--profile_steps"):
        training.TrainConfig(train_dir=str(tmp_path), profile_steps=steps).validate()
