"""convnet.training.lost_worker: a peer's failure read from TensorFlow's error as one line
naming the lost task. (The two-process cluster with a worker SIGKILLed, its one line and the
bitwise restart: tests/runtime/test_distribute.py.)"""

import socket

import pytest
import tensorflow as tf

from convnet.training import lost_worker

# What worker 0 of a two-worker cluster on localhost raised when worker 1 was SIGKILLed.
ABORTED = """Graph execution error:

Detected at node while/cond_1/CollectiveReduceV2_1 defined at (most recent call last):
Collective ops is aborted by: recvmsg:Connection reset by peer
Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling \
/tensorflow.WorkerService/RecvBuf:
:UNKNOWN:Error received from peer  {grpc_message:"recvmsg:Connection reset by peer", grpc_status:14}
The error could be from a previous operation. Restart your program to reset.
\t [[{{node while/cond_1/CollectiveReduceV2_1}}]] [Op:__inference_function_2133]"""
CLUSTER = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:2222"]}


def test_the_task_the_error_names_is_the_lost_one_never_this_one():
    assert lost_worker.lost_tasks(ABORTED, ("worker", 0), CLUSTER) == ["worker 1 (10.0.0.2:2222)"]
    assert lost_worker.lost_tasks(ABORTED.replace("replica:0/", ""), ("worker", 0), CLUSTER) == [
        "worker 1 (10.0.0.2:2222)"]
    # Worker 1 reading an error that names only itself: the peers are asked instead, and
    # worker 0, still listening, is not lost.
    listening = socket.create_server(("127.0.0.1", 0))
    try:
        alive = f"127.0.0.1:{listening.getsockname()[1]}"
        assert lost_worker.lost_tasks(ABORTED, ("worker", 1), {"worker": [alive, "x:1"]},
                                      connect_seconds=0.5) == []
    finally:
        listening.close()


def test_without_a_named_task_the_peers_that_refuse_a_connection_are_lost():
    listening = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        alive = f"127.0.0.1:{listening.getsockname()[1]}"
        dead = f"127.0.0.1:{closed_port}"
        cluster = {"worker": ["127.0.0.1:1", alive, dead]}
        assert lost_worker.lost_tasks("Socket closed", ("worker", 0), cluster,
                                      connect_seconds=1.0) == [f"worker 2 ({dead})"]
    finally:
        listening.close()


def test_the_message_names_the_lost_task_the_step_the_checkpoint_and_the_way_out():
    error = lost_worker.LostWorkerError(["worker 1 (10.0.0.2:2222)"], 60, "/runs/a/ckpt-60",
                                        cause=lost_worker._cause(ABORTED))
    assert str(error) == (
        "lost worker 1 (10.0.0.2:2222) at step 60 (Collective ops is aborted by: recvmsg:"
        "Connection reset by peer): the cluster cannot go on without it; the last checkpoint is "
        "/runs/a/ckpt-60; restart every worker with the same command to resume from it.")
    assert (error.step, error.path) == (60, "/runs/a/ckpt-60")
    fresh = lost_worker.LostWorkerError([], 3, None, cause="Socket closed")
    assert str(fresh).startswith("lost another worker at step 3 (Socket closed)")
    assert "no checkpoint was saved yet; restart every worker with the same command to start " \
           "again." in str(fresh)


def test_outside_a_cluster_or_for_another_error_nothing_is_translated():
    aborted = tf.errors.UnavailableError(None, None, ABORTED)
    strategy = tf.distribute.get_strategy()  # one process, no cluster
    assert lost_worker.lost_worker_error(aborted, strategy, step=1, path=None) is None
    assert lost_worker.lost_worker_error(ValueError(ABORTED), strategy, step=1, path=None) is None
    with pytest.raises(tf.errors.UnavailableError):
        with lost_worker.reported(strategy, lambda: 1, lambda: None):
            raise aborted
    with pytest.raises(ValueError, match="not a peer"):
        with lost_worker.reported(strategy, lambda: 1, lambda: None):
            raise ValueError("not a peer")
