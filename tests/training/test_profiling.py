"""--profile_steps: the profiler runs around exactly the calls of steps START+1..END, one step
a call, each with its step marker."""

import glob
import os

import pytest
import tensorflow as tf

from convnet import training
from convnet.training import profiling


def test_the_profiler_starts_at_start_and_stops_at_end(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.profiler.experimental, "start", lambda d: calls.append(("start", d)))
    monkeypatch.setattr(tf.profiler.experimental, "stop", lambda: calls.append(("stop",)))
    profiler = profiling.StepProfiler((3, 6), "/logs")
    assert list(profiler.boundaries()) == [3, 4, 5, 6]
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
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_dir=cifar_dir[0], download=False,
        model="simple3", max_steps=8, batch_size=8, optimizer="adam", shuffle_buffer=40,
        log_frequency=100, save_checkpoint_steps=100, num_parallel_calls=2,
        profile_steps="3,5")
    trainer = training.Trainer(config)
    rounds = []

    class Recorded:  # the compiled step, each call's step count recorded
        def __init__(self, step):
            self.step = step

        def __call__(self, iterator, num_steps):
            rounds.append(int(num_steps))
            return self.step(iterator, num_steps)

        def __getattr__(self, name):
            return getattr(self.step, name)

    monkeypatch.setattr(trainer.setup, "train_step", Recorded(trainer.train_step))
    assert trainer.train() == 8
    assert rounds == [3, 1, 1, 3]
    traces = glob.glob(os.path.join(config.train_dir, "plugins", "profile", "*", "*.xplane.pb"))
    assert len(traces) == 1
    assert _step_markers(traces[0]) == [4, 5]


def _step_markers(path):
    """The step_num of each 'train' event in a trace (tf.profiler.experimental.Trace)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace.FromString(open(path, "rb").read())
    numbers = []
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.stat_metadata.items()}
        events = {key for key, meta in plane.event_metadata.items() if meta.name == "train"}
        for line in plane.lines:
            for event in line.events:
                if event.metadata_id in events:
                    numbers += [stat.int64_value or stat.uint64_value for stat in event.stats
                                if names.get(stat.metadata_id) == "step_num"]
    return sorted(numbers)


@pytest.mark.parametrize("steps", ["5,3", "1", "a,b", "-1,2", "1,2,3"])
def test_bad_profile_steps_are_refused(tmp_path, steps):
    with pytest.raises(ValueError, match="--profile_steps"):
        training.TrainConfig.from_settings(train_dir=str(tmp_path), profile_steps=steps).validate()
