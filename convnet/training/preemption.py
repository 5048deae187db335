"""Preemption under `--strategy=multi_worker`: a signal to ONE worker stops ALL of them together.

Every training step of a multi-worker run is an all-reduce over all workers,
and so is a checkpoint save. A worker that saved and stopped on its own after a
SIGTERM would leave the others waiting forever in the next all-reduce (and
might hang in its own save's collectives). So under multi_worker, TensorFlow's
`tf.distribute.experimental.PreemptionCheckpointHandler` takes over: through
the coordination service (which `MultiWorkerMirroredStrategy` starts for every
cluster given by TF_CONFIG) the workers agree on a round of steps after which
every one of them saves the same step's checkpoint and stops:

* the signalled worker raises `errors.Interrupted` (convnet.train exits with
  128 + the signal number: 143 for SIGTERM, 130 for SIGINT);
* every other worker raises `PeerInterrupted`, naming the worker and signal
  that stopped the run (convnet.train exits with `PEER_EXIT_CODE`, 75,
  EX_TEMPFAIL: non-zero, so that a cluster manager restarts it with the
  others; the run can only go on with all of its workers).

Rerunning all the workers with the same command resumes from that checkpoint.

How it is wired (`ClusterStop`):

* Signals: convnet's own handler (`Trainer._signals_saved`) still catches
  SIGTERM and SIGINT; the handler polls `stop_signal()` (the signal the Trainer
  received, or None) once a second (its `termination_watcher_fn`), so TensorFlow installs no signal
  handler of its own and never exits the process itself.
* Counting: `check` calls `save_checkpoint_if_preempted` before every round of
  steps. Rounds end at the same steps on every worker (they follow
  --log_frequency, --save_checkpoint_steps and --max_steps), so every worker
  counts the same calls; the workers save after the round following the one
  in which the signal was noticed.
* Saving: the handler's `save_fn` calls `save` (`Trainer.save`: the chief writes to the
  train_dir, the others to their temporary directory, deleted after). The
  handler is given a CheckpointManager of its own, over an empty
  `tf.train.Checkpoint` in a directory that is never written, so its call
  counter (`checkpointed_runs`) stays out of convnet's checkpoints (they still
  restore under every strategy) and starts at 0 on every worker of a rerun.
* Exiting: the handler's `exit_fn` raises the exceptions above instead of
  calling `sys.exit` (grace_period is 0: save and stop at once).

Where TensorFlow does not support the handler (a CPU or TPU VM on Google
Cloud), `watch` gives None with a warning, and a signalled worker stops on its
own as under the other strategies (the others then wait for it forever).
"""

import contextlib
import os
import signal
from collections.abc import Callable, Iterator

import tensorflow as tf
from tensorflow.python.eager import context  # the coordination service's key-value store
from tensorflow.python.util import deprecation

from convnet.runtime import console, distribute
from convnet.runtime.errors import Interrupted

# convnet.train's exit status on the workers stopped because ANOTHER worker was
# signalled: os.EX_TEMPFAIL ("temporary failure; retry"), non-zero so that a
# cluster manager restarts them together with the signalled one.
PEER_EXIT_CODE = 75
# Coordination-service key: who was signalled, for the other workers' message.
STOPPED_BY_KEY = "convnet_stopped_by"
# Platforms where TensorFlow's handler does nothing (failure_handling_util.PlatformDevice).
_UNSUPPORTED_PLATFORMS = ("GCE_CPU", "GCE_TPU")


class PeerInterrupted(Interrupted):
    """Another worker of the cluster got a signal: every worker saved `path` at `step` and
    stopped. `signum` is the other worker's signal, `worker` its name (e.g. 'worker 1')."""

    def __init__(self, signum: int, worker: str, step: int, *, path: str | None):
        super().__init__(signum, step, path)
        self.worker = worker
        self.args = (f"{worker} received {signal.Signals(signum).name}: every worker stopped at "
                     f"step {step} after saving {path}; run the same command on every worker to "
                     f"resume.",)


class ClusterStop:
    """Stops every worker of `strategy`'s cluster at the same step when one of them is
    signalled. Made by `watch`; every worker must call `check` before each round of steps.

    Args:
      strategy: the run's MultiWorkerMirroredStrategy.
      train_dir: the run's directory (the checkpoint names).
      stop_signal: the signal this worker received, or None (polled once a second).
      save: writes a checkpoint at the current step (every worker), returns its prefix.
    """

    def __init__(self, strategy: tf.distribute.Strategy, train_dir: str,
                 stop_signal: Callable[[], int | None], *, save: Callable[[], str]):
        self._stop_signal, self._save_checkpoint = stop_signal, save
        self._train_dir = train_dir
        self._name = distribute.task_name(strategy)
        self._published = False
        self._step = self._saved_step = 0
        self._path: str | None = None
        self._writer = None
        # Never written (save_fn saves instead): it only keeps the handler's counter.
        counter_manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(), os.path.join(train_dir, ".preemption_counter_unused"),
            max_to_keep=1)
        config = tf.distribute.experimental.TerminationConfig(
            termination_watcher_fn=self._signalled, exit_fn=self._stop, grace_period=0,
            save_fn=self._save)
        self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            strategy.cluster_resolver, counter_manager, termination_config=config)

    @property
    def supported(self) -> bool:
        platform = getattr(self.handler, "_platform_device", None)
        return getattr(platform, "name", None) not in _UNSUPPORTED_PLATFORMS

    def check(self, step: int, saved_step: int, writer=None) -> None:
        """Before each round of steps, on every worker: if any worker has been signalled,
        this saves (at the round the workers agreed on) and raises `Interrupted` on the
        signalled worker, `PeerInterrupted` on the others. `saved_step`: the step of the
        last checkpoint written or restored by this run; `writer` is closed before raising."""
        self._step, self._saved_step, self._writer = step, saved_step, writer
        with deprecation.silence():  # its save reads the deprecated total_run_calls
            self.handler.save_checkpoint_if_preempted()

    def close(self) -> None:
        """Stops the handler's threads (every worker, once training is over)."""
        for stop in ("_stop_poll_termination_signal_thread",
                     "_stop_cluster_wise_termination_watcher_thread"):
            if hasattr(self.handler, stop):
                getattr(self.handler, stop)()

    # --- called by the handler -------------------------------------------------

    def _signalled(self) -> bool:
        """termination_watcher_fn (a thread of the handler, once a second)."""
        signum = self._stop_signal()
        if signum is None:
            return False
        if not self._published:
            self._published = True
            try:
                context.context().set_config_key_value(
                    STOPPED_BY_KEY, f"{self._name}:{int(signum)}")
            except tf.errors.OpError:  # AlreadyExists: another worker was signalled first
                pass
            console.log(f"{signal.Signals(signum).name}: asking every worker to save a "
                        f"checkpoint after the same round of steps, then stop")
        return True

    def _save(self) -> None:
        """save_fn: every worker at once. Skips the save when this step's checkpoint was
        just written or restored (all workers decide alike: the steps are the same)."""
        step = self._step
        if step != self._saved_step or step == 0:
            self._path = self._save_checkpoint()
        else:  # the name the save gave it (the chief may still be writing the state file)
            self._path = os.path.join(self._train_dir, f"ckpt-{step}")

    def _stop(self) -> None:
        """exit_fn: raises instead of exiting, so that convnet.train prints the reason."""
        if self._writer is not None:
            self._writer.close()
        signum = self._stop_signal()
        if signum is not None:
            raise Interrupted(signum, self._step, self._path)
        worker, signum = _stopped_by()
        raise PeerInterrupted(signum, worker, self._step, path=self._path)


def _stopped_by():
    """(worker name, signal number) of the signalled worker, from the coordination service."""
    try:
        value = context.context().get_config_key_value(STOPPED_BY_KEY, timeout_in_ms=5000)
        worker, signum = value.rsplit(":", 1)
        return worker, int(signum)
    except (tf.errors.OpError, ValueError):
        return "another worker", int(signal.SIGTERM)


@contextlib.contextmanager
def watch(strategy: tf.distribute.Strategy, train_dir: str,
          stop_signal: Callable[[], int | None],
          *, save: Callable[[], str]) -> Iterator[ClusterStop | None]:
    """A ClusterStop (the arguments are its) while training when the run is on a multi-worker
    cluster (`MultiWorkerMirroredStrategy` with a TF_CONFIG cluster), else None."""
    if not distribute.is_cluster(strategy):
        yield None
        return
    if not context.context().coordination_service:
        console.log(f"warning: {_ALONE}: the coordination service is not running")
        yield None
        return
    stop = ClusterStop(strategy, train_dir, stop_signal, save=save)
    try:
        if not stop.supported:
            console.log(f"warning: {_ALONE}: TensorFlow does not support that on a CPU or TPU VM "
                        f"of Google Cloud")
            yield None
        else:
            yield stop
    finally:
        stop.close()


_ALONE = ("a signalled worker will save and stop on its own while the other workers wait for it "
          "forever (stop them too)")
