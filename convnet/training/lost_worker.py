"""A worker lost from a `--strategy=multi_worker` cluster: one line, not a traceback.

Every step of a multi-worker run is an all-reduce over all workers. When one of
them dies (SIGKILL, out of memory, its machine gone), the others' next
collective fails: TensorFlow aborts every collective of the process ("Collective
ops is aborted by: Socket closed ... Restart your program to reset") and the
process cannot run another step. The run can only go on with all of its
workers, so the survivors stop too, and `lost_worker_error` turns TensorFlow's
error into a `LostWorkerError` that names the lost task, the last step, the last
checkpoint and the way out (convnet.train prints it as one line and exits with
`convnet.training.preemption.PEER_EXIT_CODE`, 75: restart every worker).

Which task was lost: the one TensorFlow's message names as the remote target
(`/job:worker/replica:0/task:1`), else the peers that no longer accept a
connection on their TF_CONFIG address.
"""

import contextlib
import re
import socket
from collections.abc import Callable, Iterator

import tensorflow as tf

from convnet.runtime import distribute
from convnet.runtime.errors import ConvnetError, tf_error_line

# TensorFlow's errors when a peer's collectives or coordination fail.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
               tf.errors.DeadlineExceededError, tf.errors.InternalError)
# What those errors say when a peer is gone (an InternalError may be anything else too).
_PEER_FAILURE = re.compile(r"Collective ops is aborted|Socket closed|Connection reset|"
                           r"failed to connect|Connection refused|heartbeat|unavailable|"
                           r"coordination service", re.IGNORECASE)
_TASK = re.compile(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)")
CONNECT_SECONDS = 2.0  # how long a peer's address is tried before it counts as lost


class LostWorkerError(ConvnetError, RuntimeError):
    """Another worker of the cluster was lost: this one stopped at `step`; `path` is the last
    checkpoint (None: none yet), `lost` the lost tasks, e.g. ['worker 1 (10.0.0.2:2222)']."""

    def __init__(self, lost: list[str], step: int, path: str | None, *, cause: str):
        self.lost, self.step, self.path = lost, step, path
        who = ", ".join(lost) if lost else "another worker"
        where = (f"the last checkpoint is {path}; restart every worker with the same command to "
                 f"resume from it" if path else
                 "no checkpoint was saved yet; restart every worker with the same command to "
                 "start again")
        super().__init__(f"lost {who} at step {step} ({cause}): the cluster cannot go on "
                         f"without it; {where}.")


def _named_tasks(message: str, own: tuple[str, int]) -> list[tuple[str, int]]:
    tasks = []
    for job, index in _TASK.findall(message):
        task = (job, int(index))
        if task != own and task not in tasks:
            tasks.append(task)
    return tasks


def _cause(message: str, limit: int = 160) -> str | None:
    """The first line of `message` that says how the peer failed (TensorFlow's first line is
    often only "Graph execution error:"), without TensorFlow's decorations."""
    for line in message.splitlines():
        if _PEER_FAILURE.search(line):
            return tf_error_line(line, limit).removeprefix("UNAVAILABLE: ")
    return None


def _refuses(address: str, seconds: float) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            return False
    except (OSError, ValueError):
        return True


def lost_tasks(message: str, own: tuple[str, int], cluster: dict, *,
               connect_seconds: float = CONNECT_SECONDS) -> list[str]:
    """The tasks of `cluster` (TF_CONFIG's, {job: [address, ...]}) that TensorFlow's error
    `message` names as the failed remote target, else those whose address refuses a
    connection, as 'worker 1 (host:port)'; never `own` (this task: (job, index))."""

    def address(job, index):
        addresses = cluster.get(job) or []
        if isinstance(addresses, dict):
            return addresses.get(index)
        return addresses[index] if index < len(addresses) else None

    tasks = _named_tasks(message, own) or [
        (job, index) for job, addresses in cluster.items() for index in range(len(addresses))
        if (job, index) != own and address(job, index) is not None
        and _refuses(address(job, index), connect_seconds)]
    return [f"{job} {index}" + (f" ({address(job, index)})" if address(job, index) else "")
            for job, index in tasks]


def lost_worker_error(error: BaseException, strategy: tf.distribute.Strategy, *, step: int,
                      path: str | None,
                      connect_seconds: float = CONNECT_SECONDS) -> LostWorkerError | None:
    """The `LostWorkerError` that `error` (raised by a step, save or stop check of a cluster
    run) means, or None when it is not a peer's failure or the run is not on a cluster."""
    if not isinstance(error, PEER_ERRORS) or not distribute.is_cluster(strategy):
        return None
    message = str(getattr(error, "message", None) or error)
    if not _PEER_FAILURE.search(message):
        return None
    resolver = strategy.cluster_resolver
    own = (resolver.task_type, int(resolver.task_id))
    lost = lost_tasks(message, own, resolver.cluster_spec().as_dict(),
                      connect_seconds=connect_seconds)
    return LostWorkerError(lost, step, path, cause=_cause(message) or tf_error_line(error))


@contextlib.contextmanager
def reported(strategy: tf.distribute.Strategy, step: Callable[[], int],
             latest: Callable[[], str | None]) -> Iterator[None]:
    """Around a cluster run's training loop: a peer's failure (`lost_worker_error`) leaves as
    a `LostWorkerError` at `step()`, naming `latest()` (the last checkpoint); any other error
    as it is."""
    try:
        yield
    except PEER_ERRORS as e:
        lost = lost_worker_error(e, strategy, step=step(), path=latest())
        if lost is None:
            raise
        raise lost from None
