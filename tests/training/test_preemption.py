"""convnet.training.preemption: a signal to one worker stops every worker at the same step.

TensorFlow's PreemptionCheckpointHandler and the coordination service's key-value store are
replaced by fakes, so that two ClusterStops (two workers) run in this process. The real thing,
two training processes of a cluster:
tests/runtime/test_distribute.py::test_sigterm_to_one_worker_stops_both_at_the_same_checkpoint_and_both_resume.
"""

import os
import signal
from types import SimpleNamespace

import pytest
import tensorflow as tf

from convnet.runtime import distribute
from convnet.runtime.errors import Interrupted
from convnet.training import preemption


class FakeContext:
    """The coordination service's key-value store, shared by the workers of a test."""

    def __init__(self, service=True):
        self.coordination_service = "fake" if service else None
        self.store, self.sets = {}, 0

    def set_config_key_value(self, key, value):
        self.sets += 1
        if key in self.store:
            raise tf.errors.AlreadyExistsError(None, None, f"{key} exists")
        self.store[key] = value

    def get_config_key_value(self, key, timeout_in_ms):
        if key not in self.store:
            raise tf.errors.DeadlineExceededError(None, None, f"no {key}")
        return self.store[key]


class FakeHandler:
    """PreemptionCheckpointHandler: saves then exits at `check` once `preempted` is set."""

    platform = "GCE_GPU"

    def __init__(self, cluster_resolver, checkpoint_manager, termination_config):
        self.cluster_resolver, self.manager = cluster_resolver, checkpoint_manager
        self.config = termination_config
        self._platform_device = SimpleNamespace(name=self.platform)
        self.preempted, self.stopped = False, []

    def save_checkpoint_if_preempted(self):
        if self.preempted:
            self.config.save_fn()
            self.config.exit_fn()

    def _stop_poll_termination_signal_thread(self):
        self.stopped.append("poll")

    def _stop_cluster_wise_termination_watcher_thread(self):
        self.stopped.append("watcher")


class FakeTrainer:
    def __init__(self, train_dir, name):
        self.strategy = SimpleNamespace(name=name, cluster_resolver=f"resolver of {name}")
        self.config = SimpleNamespace(train_dir=train_dir)
        self._stop_signal = None
        self.saves = 0

    def save(self):
        self.saves += 1
        return os.path.join(self.config.train_dir, f"ckpt-saved-{self.saves}")

    def callables(self):
        """What ClusterStop and watch take of a Trainer (the last by keyword)."""
        return (self.strategy, self.config.train_dir, lambda: self._stop_signal)


class FakeWriter:
    closed = False

    def close(self):
        self.closed = True


@pytest.fixture
def cluster(monkeypatch):
    """The fake coordination service; ClusterStops made while it runs use FakeHandler."""
    context = FakeContext()
    monkeypatch.setattr(preemption, "context", SimpleNamespace(context=lambda: context))
    monkeypatch.setattr(preemption.tf.distribute.experimental, "PreemptionCheckpointHandler",
                        FakeHandler)
    monkeypatch.setattr(preemption.distribute, "task_name", lambda strategy: strategy.name)
    monkeypatch.setattr(preemption.distribute, "is_cluster", lambda strategy: True)
    return context


def test_peer_interrupted_names_the_worker_signal_step_and_checkpoint():
    error = preemption.PeerInterrupted(signal.SIGTERM, "worker 1", 15, path="/t/ckpt-15")
    assert isinstance(error, Interrupted)
    assert (error.signum, error.worker, error.step, error.path) == (
        signal.SIGTERM, "worker 1", 15, "/t/ckpt-15")
    assert str(error) == ("worker 1 received SIGTERM: every worker stopped at step 15 after "
                          "saving /t/ckpt-15; run the same command on every worker to resume.")
    assert preemption.PEER_EXIT_CODE == os.EX_TEMPFAIL == 75


def test_the_handler_is_given_convnets_callbacks_and_an_unwritten_counter(cluster, tmp_path):
    fake = FakeTrainer(str(tmp_path), "worker 0")
    stop = preemption.ClusterStop(*fake.callables(), save=fake.save)
    config = stop.handler.config
    assert stop.handler.cluster_resolver == "resolver of worker 0"
    assert config.grace_period == 0 and stop.supported
    assert stop.handler.manager.directory == str(tmp_path / ".preemption_counter_unused")
    stop.check(4, 0)  # nobody signalled: nothing saved, nothing raised
    stop.close()
    assert stop.handler.stopped == ["poll", "watcher"] and os.listdir(tmp_path) == []


def test_the_signalled_worker_raises_interrupted_and_the_others_name_it(cluster, tmp_path,
                                                                        capsys):
    chief = FakeTrainer(str(tmp_path / "w0"), "worker 0")
    signalled = FakeTrainer(str(tmp_path / "w1"), "worker 1")
    stops = [preemption.ClusterStop(*chief.callables(), save=chief.save),
             preemption.ClusterStop(*signalled.callables(), save=signalled.save)]
    watchers = [stop.handler.config.termination_watcher_fn for stop in stops]
    assert watchers[0]() is False and watchers[1]() is False
    signalled._stop_signal = signal.SIGTERM  # what Trainer's own signal handler sets
    assert watchers[1]() is True and watchers[1]() is True
    assert cluster.store == {preemption.STOPPED_BY_KEY: f"worker 1:{int(signal.SIGTERM)}"}
    assert cluster.sets == 1  # published once
    assert capsys.readouterr().out.endswith(": SIGTERM: asking every worker to save a checkpoint "
                                            "after the same round of steps, then stop\n")
    for stop in stops:
        stop.handler.preempted = True  # the workers agreed on this round
    writer = FakeWriter()
    with pytest.raises(preemption.PeerInterrupted) as peer:
        stops[0].check(20, 10, writer)
    assert (peer.value.worker, peer.value.signum, peer.value.step, peer.value.path) == (
        "worker 1", signal.SIGTERM, 20, str(tmp_path / "w0" / "ckpt-saved-1"))
    assert writer.closed
    with pytest.raises(Interrupted) as own:
        stops[1].check(20, 10)
    assert type(own.value) is Interrupted  # pylint: disable=unidiomatic-typecheck
    assert (own.value.signum, own.value.step, own.value.path) == (
        signal.SIGTERM, 20, str(tmp_path / "w1" / "ckpt-saved-1"))


def test_a_step_just_saved_or_restored_is_not_saved_again(cluster, tmp_path):
    trainer = FakeTrainer(str(tmp_path), "worker 0")
    trainer._stop_signal = signal.SIGINT
    stop = preemption.ClusterStop(*trainer.callables(), save=trainer.save)
    stop.handler.preempted = True
    with pytest.raises(Interrupted) as error:
        stop.check(30, 30)
    assert trainer.saves == 0 and error.value.path == str(tmp_path / "ckpt-30")
    with pytest.raises(Interrupted) as error:
        stop.check(0, 0)  # step 0: nothing was saved yet
    assert trainer.saves == 1 and error.value.path == str(tmp_path / "ckpt-saved-1")


def test_a_peer_that_cannot_learn_who_was_signalled_blames_another_worker(cluster, tmp_path):
    fake = FakeTrainer(str(tmp_path), "worker 0")
    stop = preemption.ClusterStop(*fake.callables(), save=fake.save)
    stop.handler.preempted = True
    with pytest.raises(preemption.PeerInterrupted) as error:
        stop.check(5, 0)
    assert (error.value.worker, error.value.signum) == ("another worker", signal.SIGTERM)


def test_watch_gives_none_without_a_cluster_a_coordination_service_or_support(
        monkeypatch, cluster, tmp_path, capsys):
    trainer = FakeTrainer(str(tmp_path), "worker 0")
    with preemption.watch(*trainer.callables(), save=trainer.save) as stop:
        assert isinstance(stop, preemption.ClusterStop) and stop.handler.stopped == []
    assert stop.handler.stopped == ["poll", "watcher"]  # closed when training ends
    monkeypatch.setattr(FakeHandler, "platform", "GCE_CPU")
    with preemption.watch(*trainer.callables(), save=trainer.save) as stop:
        assert stop is None
    assert "TensorFlow does not support that on a CPU or TPU VM" in capsys.readouterr().out
    cluster.coordination_service = None
    with preemption.watch(*trainer.callables(), save=trainer.save) as stop:
        assert stop is None
    assert "the coordination service is not running" in capsys.readouterr().out
    monkeypatch.setattr(preemption.distribute, "is_cluster", lambda strategy: False)
    with preemption.watch(*trainer.callables(), save=trainer.save) as stop:
        assert stop is None
    assert capsys.readouterr().out == ""


def test_watch_is_off_under_the_default_and_mirrored_strategies(tmp_path):
    for strategy in (tf.distribute.get_strategy(), distribute.mirrored(["/cpu:0"])):
        with preemption.watch(strategy, str(tmp_path), lambda: None, save=lambda: "") as stop:
            assert stop is None
