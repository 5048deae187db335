"""tf.distribute: mirrored replicas equal one device, a two-process cluster trains and resumes,
a SIGTERM to one worker of a cluster stops both at the same checkpoint, and checkpoints move
between strategies."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from convnet import evaluation, training
from convnet.data import pipeline
from convnet.evaluation import counting
from convnet.runtime import distribute
from convnet.training import preemption

import kill_harness
from conftest import LOGICAL_CPUS, run_python
from helpers import REPO

HERE = os.path.join(REPO, "tests")  # the helpers: multi_worker_main.py


def _config(train_dir, **overrides):
    values = dict(train_dir=str(train_dir), data_source="synthetic", max_steps=1, batch_size=128,
                  optimizer="adam", num_parallel_calls=2, log_frequency=2,
                  save_checkpoint_steps=4)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def _mirrored():
    return distribute.mirrored(LOGICAL_CPUS)


_ALL_REDUCE_TWICE = """
import sys
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
from convnet.runtime import distribute
devices = ["/cpu:0", "/cpu:1"]
make = distribute.mirrored if sys.argv[1] == "convnet" else tf.distribute.MirroredStrategy
for size in (3, 5):  # two strategies, one after the other, all-reducing other shapes
    strategy = make(devices)
    step = tf.function(lambda: strategy.run(
        lambda: tf.distribute.get_replica_context().all_reduce("SUM", tf.ones([size]))))
    print(size, strategy.experimental_local_results(step())[0].numpy().tolist(), flush=True)
"""


@pytest.mark.slow
def test_two_mirrored_strategies_in_one_process_have_their_own_collective_keys():
    """A second tf.distribute.MirroredStrategy of a process fails at its first all-reduce
    (its collective keys are the first one's); distribute.mirrored's do not."""
    ours = run_python(_ALL_REDUCE_TWICE, "convnet", CUDA_VISIBLE_DEVICES="")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == ["3 [2.0, 2.0, 2.0]", "5 [2.0, 2.0, 2.0, 2.0, 2.0]"]
    theirs = run_python(_ALL_REDUCE_TWICE, "tensorflow", CUDA_VISIBLE_DEVICES="")
    assert theirs.returncode != 0 and "Shape mismatch in the collective instance" in theirs.stderr


def _one_step_weights(tmp_path, strategy, name, **overrides):
    """Weights and EMA after one step from the same initial weights and batch."""
    tf.random.set_seed(0)
    trainer = training.Trainer(_config(tmp_path / name, **overrides), strategy=strategy)
    reference = training.Trainer(_config(tmp_path / (name + "_init"), **overrides))
    for target, source in zip(trainer.state.model.variables, reference.state.model.variables,
                              strict=True):
        target.assign(source)
    trainer.state.ema.build(trainer.state.model.trainable_variables)
    for shadow, var in zip(trainer.state.ema.shadows, trainer.state.model.trainable_variables,
                           strict=True):
        shadow.assign(var)
    batch = next(iter(pipeline.eval_dataset(trainer.source, "test", 128)))
    loss, finite, skipped = trainer.setup.run_steps(
        trainer.setup.distribute(tf.data.Dataset.from_tensors(batch).repeat()), 1)[:3]
    assert bool(finite) and int(skipped) == 0 and int(trainer.state.step.numpy()) == 1
    state = trainer.state
    return float(loss), [v.numpy() for v in [*state.model.variables, *state.ema.shadows]]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_two_mirrored_replicas_make_the_same_step_as_one_device(tmp_path, optimizer):
    strategy = _mirrored()
    assert strategy.num_replicas_in_sync == 2
    loss_one, weights_one = _one_step_weights(tmp_path, None, "one", optimizer=optimizer)
    loss_two, weights_two = _one_step_weights(tmp_path, strategy, "two", optimizer=optimizer)
    np.testing.assert_allclose(loss_two, loss_one, rtol=1e-6)
    for one, two in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)


def test_the_global_batch_must_split_evenly(tmp_path):
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        training.Trainer(_config(tmp_path, batch_size=15), strategy=_mirrored())


@pytest.mark.slow
def test_mirrored_checkpoint_restores_and_evaluates_under_the_default_strategy(tmp_path):
    train_dir = tmp_path / "train"
    mirrored = training.Trainer(_config(train_dir, max_steps=4, batch_size=32),
                                strategy=_mirrored())
    assert mirrored.train() == 4
    weights = [v.numpy() for v in mirrored.state.model.variables]

    resumed = training.Trainer(_config(train_dir, max_steps=6, batch_size=32))
    assert resumed.restore() == 4
    for saved, restored in zip(weights, resumed.state.model.variables, strict=True):
        np.testing.assert_array_equal(saved, restored.numpy())
    assert resumed.train() == 6

    def evaluate(**overrides):
        config = evaluation.EvalConfig.from_settings(
            checkpoint_dir=str(train_dir), eval_dir=str(tmp_path / "eval"), data_source="synthetic",
            batch_size=48, num_examples=100, run_once=True, **overrides)
        return evaluation.evaluate(config)

    plain = evaluate()
    assert plain.step == 6 and plain.num_examples == 100
    # The same counts with the batches split across two replicas, and padded for XLA.
    for overrides in (dict(strategy="mirrored"), dict(xla=True)):
        other = evaluate(**overrides)
        assert other.num_examples == 100 and other.num_correct == plain.num_correct
        np.testing.assert_array_equal(other.confusion, plain.confusion)


def test_padding_for_a_fixed_batch_shape_has_zero_weight():
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.ones([5, 2, 2, 1]), tf.range(5, dtype=tf.int32))).batch(2)
    batches = list(counting.with_weights(dataset, batch_size=2))
    assert [b[0].shape[0] for b in batches] == [2, 2, 2]
    np.testing.assert_array_equal(batches[-1][2].numpy(), [1, 0])
    np.testing.assert_array_equal(batches[-1][1].numpy(), [4, 0])


def test_strategy_names_and_the_chief():
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    assert distribute.is_chief(tf.distribute.get_strategy())
    assert distribute.write_dir("/t", tf.distribute.get_strategy()) == "/t"
    # No cluster: a signal stops the one process as before (no PreemptionCheckpointHandler).
    assert not distribute.is_cluster(tf.distribute.get_strategy())
    assert not distribute.is_cluster(_mirrored())
    with pytest.raises(ValueError, match="choose from default, one_device, mirrored"):
        distribute.make_strategy("ring")
    os.environ["TF_CONFIG"] = "{not json"
    try:
        with pytest.raises(ValueError, match="TF_CONFIG is not valid"):
            distribute.make_strategy("multi_worker")
    finally:
        del os.environ["TF_CONFIG"]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_cluster(train_dir, max_steps, tmp_path, tag):
    """Runs two workers on 127.0.0.1 to `max_steps`; returns (outputs, weights per worker)."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.dirname(HERE),
                   TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                         "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multi_worker_main.py"), str(train_dir),
             str(max_steps), str(tmp_path / f"{tag}_worker{index}.npz")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for process in processes:
        try:
            out, _ = process.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise
        assert process.returncode == 0, out[-3000:]
        outputs.append(out)
    weights = [np.load(tmp_path / f"{tag}_worker{i}.npz") for i in range(2)]
    return outputs, weights


@pytest.mark.slow
def test_two_process_cluster_trains_in_step_and_resumes(tmp_path):
    train_dir = tmp_path / "train"
    outputs, weights = _run_cluster(train_dir, 20, tmp_path, "first")
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    assert tf.train.latest_checkpoint(str(train_dir)).endswith("ckpt-20")
    assert "saved checkpoint" in outputs[0]
    # Only the chief's files remain: the other worker's temporary directory is gone.
    assert not [name for name in os.listdir(train_dir) if name.startswith(".worker")]

    outputs, weights = _run_cluster(train_dir, 25, tmp_path, "second")
    for out in outputs:
        assert "resumed from" in out and "at step 20" in out, out[-2000:]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    assert tf.train.latest_checkpoint(str(train_dir)).endswith("ckpt-25")


# --- preemption of one worker ----------------------------------------------------------------

# LeNet-5 on MNIST-shaped synthetic data: the cheapest run that trains across two processes.
PREEMPTION_FLAGS = ("--model=lenet5", "--dataset=mnist", "--data_source=synthetic",
                    "--strategy=multi_worker", "--batch_size=8", "--num_parallel_calls=1",
                    "--shuffle_buffer=64", "--optimizer=sgd", "--log_frequency=5",
                    "--save_checkpoint_steps=100000", "--normalization=per_image")
STARTUP_SECS = 300.0  # two TensorFlow imports and traces on two busy cores
EXIT_SECS = 120.0  # from the signal until both workers have exited


def _start_workers(train_dir, max_steps, extra=()):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    command = [sys.executable, "-m", "convnet.train", *PREEMPTION_FLAGS,
               f"--train_dir={train_dir}", f"--max_steps={max_steps}", *extra]
    return [kill_harness.Process(command, env={"TF_CONFIG": json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
        for index in range(2)]


def _read_until(processes, done, deadline):
    """Reads both workers' lines, in turns, until `done(index, line)` held for each (True)
    or both ended (False)."""
    pending = set(range(len(processes)))
    ended = set()
    while pending - ended:
        if time.monotonic() > deadline:
            raise AssertionError("timed out:\n" + "\n".join(p.tail() for p in processes))
        for index in sorted(pending - ended):
            line = processes[index].readline(time.monotonic() + 0.2, timeout_ok=True)
            if line is None:
                ended.add(index)
            elif line and done(index, line):
                pending.discard(index)
    return not pending


def _finish(processes, deadline):
    """Reads the workers' output to the end; their exit statuses."""
    _read_until(processes, lambda index, line: False, deadline)
    return [p.wait(max(1.0, deadline - time.monotonic())) for p in processes]


def _cluster_to_the_end(train_dir, max_steps, extra=()):
    """Both workers run to `max_steps` and exit 0; the processes, with their lines."""
    processes = _start_workers(train_dir, max_steps, extra)
    try:
        statuses = _finish(processes, time.monotonic() + STARTUP_SECS)
    finally:
        for process in processes:
            process.close()
    assert statuses == [0, 0], "\n".join(p.tail() for p in processes)
    return processes


def _last_match(pattern, process):
    """The match of `pattern` in the last line of convnet's (timestamped) lines."""
    ours = [line for line in process.lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: ", line)]
    match = re.search(pattern, ours[-1]) if ours else None
    assert match, process.tail()
    return match


@pytest.mark.slow
def test_sigterm_to_one_worker_stops_both_at_the_same_checkpoint_and_both_resume(tmp_path):
    train_dir = str(tmp_path / "train")
    processes = _start_workers(train_dir, max_steps=1000000)
    try:
        assert _read_until(processes, lambda index, line: kill_harness.STEP_LINE.search(line),
                           time.monotonic() + STARTUP_SECS), "\n".join(p.tail() for p in processes)
        processes[1].popen.send_signal(signal.SIGTERM)  # worker 1, not the chief
        statuses = _finish(processes, time.monotonic() + EXIT_SECS)
    finally:
        for process in processes:
            process.close()
    chief, signalled = processes
    for index, (process, status) in enumerate(zip(processes, statuses, strict=True)):
        print(f"worker {index}: exit {status}, last line: {process.lines[-1]}")  # shown with -s
    assert statuses == [preemption.PEER_EXIT_CODE, 128 + signal.SIGTERM], \
        "\n".join(p.tail() for p in processes)
    # The last line each printed (TensorFlow may log a peer's exit after it).
    own = _last_match(r": SIGTERM received: stopped at step (\d+) after saving (\S+); run the same "
                      r"command to resume\.$", signalled)
    peer = _last_match(r": worker 1 received SIGTERM: every worker stopped at step (\d+) after "
                       r"saving (\S+); run the same command on every worker to resume\.$", chief)
    step, path = int(own.group(1)), own.group(2)
    assert (int(peer.group(1)), peer.group(2)) == (step, path)
    assert path == os.path.join(train_dir, f"ckpt-{step}") and step % 5 == 0
    assert tf.train.latest_checkpoint(train_dir) == path
    saved = kill_harness.read_checkpoint(path)
    assert int(saved[kill_harness.STEP_KEY]) == step
    # The handler's call counter stays out of the checkpoint (it restores under any strategy).
    assert not [key for key in saved if "checkpointed_runs" in key]
    assert not [name for name in os.listdir(train_dir) if name.startswith(".")]
    for process in processes:
        assert "Traceback" not in "\n".join(process.lines), process.tail()
        steps = [int(m.group(1)) for m in map(kill_harness.STEP_LINE.search, process.lines) if m]
        assert steps[-1] == step, process.tail()  # both trained up to the step saved

    processes = _cluster_to_the_end(train_dir, step + 2)
    for process in processes:
        assert any(line.endswith(f": resumed from {path} at step {step}")
                   for line in process.lines), process.tail()
        steps = [int(m.group(1)) for m in map(kill_harness.STEP_LINE.search, process.lines) if m]
        assert steps == [step + 2], process.tail()
    assert tf.train.latest_checkpoint(train_dir) == os.path.join(train_dir, f"ckpt-{step + 2}")


# --- a worker lost -------------------------------------------------------------------------

LOST_FLAGS = ("--deterministic", "--save_checkpoint_steps=10")


@pytest.mark.slow
def test_a_worker_killed_stops_the_other_with_one_line_and_the_restart_is_bitwise(tmp_path):
    """SIGKILL to worker 1 after its step 20: worker 0 exits with 75 within EXIT_SECS, its last
    line naming worker 1, the step and the last checkpoint; the cluster restarted with the same
    command ends bitwise equal to a run never interrupted."""
    max_steps = 45
    reference = str(tmp_path / "reference")
    _cluster_to_the_end(reference, max_steps, LOST_FLAGS)

    train_dir = str(tmp_path / "train")
    processes = _start_workers(train_dir, max_steps, LOST_FLAGS)
    try:
        assert _read_until(processes, lambda index, line: index == 0 or ": step 20, loss" in line,
                           time.monotonic() + STARTUP_SECS), processes[1].tail()
        processes[1].popen.kill()
        killed_at = time.monotonic()
        statuses = _finish(processes, killed_at + EXIT_SECS)
        seconds = time.monotonic() - killed_at
    finally:
        for process in processes:
            process.close()
    survivor = processes[0]
    print(f"worker 0: exit {statuses[0]} {seconds:.1f} s after the kill; last line: "
          f"{survivor.lines[-1]}")  # shown with -s
    assert statuses == [preemption.PEER_EXIT_CODE, -signal.SIGKILL], survivor.tail()
    assert seconds < 60, survivor.tail()
    line = _last_match(r": lost worker 1 \(127\.0\.0\.1:\d+\) at step (\d+) \((.+)\): the cluster "
                       r"cannot go on without it; the last checkpoint is (\S+); restart every "
                       r"worker with the same command to resume from it\.$", survivor)
    step, path = int(line.group(1)), line.group(3)
    assert step >= 20 and path == tf.train.latest_checkpoint(train_dir), survivor.tail()
    assert "Traceback" not in "\n".join(survivor.lines), survivor.tail()

    restarted = _cluster_to_the_end(train_dir, max_steps, LOST_FLAGS)
    for process in restarted:
        assert any(f": resumed from {path} at step " in line for line in process.lines), \
            process.tail()
    final = [kill_harness.read_checkpoint(os.path.join(d, f"ckpt-{max_steps}"))
             for d in (reference, train_dir)]
    assert sorted(final[0]) == sorted(final[1])
    for key in final[0]:
        np.testing.assert_array_equal(final[0][key], final[1][key], err_msg=key)
