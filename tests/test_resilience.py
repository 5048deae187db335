"""A run never loses work: SIGKILL at random moments, SIGTERM/SIGINT, determinism, bad losses.

The subprocess tests run `python -m convnet.train` on tiny MNIST files
(tests/kill_harness.py has the command); the kill harness alone:

    pytest -m kill_harness tests/test_resilience.py -s

(KILL_HARNESS_SEED=<n> picks other kill moments; the report is printed with -s.)
"""

import os
import re
import signal
import time

import numpy as np
import pytest
import tensorflow as tf

from convnet import training
from convnet.runtime.errors import NonFiniteLossError
from convnet.training import loss_watch

import kill_harness

# SIGKILLs a run in the suite; KILL_HARNESS_KILLS=30 makes a longer hunt (BUILD.md).
KILLS = int(os.environ.get("KILL_HARNESS_KILLS", 6))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return kill_harness.write_data(str(tmp_path_factory.mktemp("data")))


# --- SIGKILL ------------------------------------------------------------------------------


@pytest.mark.kill_harness
def test_sigkill_at_random_moments_loses_no_work(tmp_path):
    seed = int(os.environ.get("KILL_HARNESS_SEED", kill_harness.DEFAULT_SEED))
    report = kill_harness.run_harness(str(tmp_path), kills=KILLS, seed=seed)
    print(report.summary())
    assert len(report.kills) == KILLS
    # Most 'write' kills land while the checkpoint's files are being written.
    assert report.kills_during_write, report.summary()
    # Every life after the first resumed from the latest complete checkpoint (run_harness
    # raises otherwise) and went on at the step after it.
    assert len(report.resumes) >= KILLS - 1  # a startup kill may come before the first line
    for life, expected, resumed, first in report.resumes:
        assert (resumed and os.path.abspath(resumed)) == (
            expected and os.path.abspath(expected)), (life, resumed, expected)
        if first is not None:
            assert first == (kill_harness.step_of(expected) + 1 if expected else 1), life
    assert report.final_step == kill_harness.MAX_STEPS
    assert report.final_checkpoint.endswith(f"ckpt-{kill_harness.MAX_STEPS}")
    # The shard directories of saves killed midway were cleaned up by the restarts.
    killed_dir = os.path.dirname(report.final_checkpoint)
    assert not [name for name in os.listdir(killed_dir) if name.endswith("_temp")]
    # --deterministic: weights, optimizer slots, EMA and step equal the uninterrupted run's.
    assert report.weights_equal, report.different
    assert report.tensors_compared > 10
    assert report.loss_steps_compared == kill_harness.MAX_STEPS
    assert not report.loss_mismatches, report.summary()


# --- SIGTERM, SIGINT ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_saves_a_checkpoint_exits_128_plus_signum_and_the_rerun_resumes(
        tmp_path, data_dir, signum):
    train_dir = str(tmp_path / "train")
    name = signal.Signals(signum).name
    # No checkpoint step comes before the signal: the one found afterwards is the signal's.
    extra = ["--save_checkpoint_steps=100000"]
    process = kill_harness.Process(
        kill_harness.train_command(train_dir, data_dir, max_steps=100000, extra=extra))
    try:
        while True:
            line = process.readline(deadline=_deadline())
            assert line is not None, process.tail()
            if kill_harness.STEP_LINE.search(line):
                break
        process.popen.send_signal(signum)
        status = process.drain()
    finally:
        process.close()
    output = "\n".join(process.lines)
    assert status == 128 + signum, process.tail()
    assert f"{name} received: saving a checkpoint" in output
    stopped = re.search(rf": {name} received: stopped at step (\d+) after saving (\S+); run the "
                        rf"same command to resume\.$", process.lines[-1])
    assert stopped, process.tail()
    step, path = int(stopped.group(1)), stopped.group(2)
    assert path == os.path.join(train_dir, f"ckpt-{step}")
    steps = [int(m.group(1)) for m in map(kill_harness.STEP_LINE.search, process.lines) if m]
    assert steps[-1] == step  # the steps up to the signal's round, none lost
    assert tf.train.latest_checkpoint(train_dir) == path
    assert int(kill_harness.read_checkpoint(path)[kill_harness.STEP_KEY]) == step
    assert "Traceback" not in output

    rerun = kill_harness.Process(
        kill_harness.train_command(train_dir, data_dir, max_steps=step + 2, extra=extra))
    try:
        status = rerun.drain()
    finally:
        rerun.close()
    assert status == 0, rerun.tail()
    assert any(line.endswith(f": resumed from {path} at step {step}") for line in rerun.lines)
    steps = [int(m.group(1)) for m in map(kill_harness.STEP_LINE.search, rerun.lines) if m]
    assert steps == [step + 1, step + 2]
    assert tf.train.latest_checkpoint(train_dir).endswith(f"ckpt-{step + 2}")


def _deadline():
    return time.monotonic() + kill_harness.LIFE_TIMEOUT_SECS


# --- determinism -------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_and_deterministic_give_bitwise_identical_losses_and_weights(tmp_path,
                                                                             data_dir):
    # Op determinism is process-global and cannot be undone: two subprocesses, side by side.
    steps = 6
    runs = [kill_harness.start_quietly(
        kill_harness.train_command(str(tmp_path / name), data_dir, max_steps=steps),
        str(tmp_path / f"{name}.log")) for name in ("a", "b")]
    try:
        statuses = [run.wait(kill_harness.LIFE_TIMEOUT_SECS) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert statuses == [0, 0], (tmp_path / "a.log").read_text()[-3000:]
    losses_a = kill_harness.read_scalars(str(tmp_path / "a"))
    losses_b = kill_harness.read_scalars(str(tmp_path / "b"))
    assert sorted(losses_a) == list(range(1, steps + 1))
    assert losses_a == losses_b  # float32 bytes, step by step
    assert len({values[0] for values in losses_a.values()}) > 1  # the losses do change
    final_a = kill_harness.read_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "a")))
    final_b = kill_harness.read_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "b")))
    assert int(final_a[kill_harness.STEP_KEY]) == steps
    assert kill_harness.different_tensors(final_a, final_b) == []


# --- non-finite losses (in process, without --deterministic) -----------------------------


def _config(tmp_path, data_dir, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_source="files", data_dir=data_dir,
                  dataset="mnist", model="lenet5", download=False, batch_size=8,
                  num_parallel_calls=1, shuffle_buffer=64, log_frequency=1,
                  save_checkpoint_steps=5, max_steps=12, optimizer="sgd")
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


@tf.custom_gradient
def _nan_gradient(x):
    return tf.identity(x), lambda dy: dy * float("nan")


def _poison(trainer, bad, how="loss"):
    """Makes the loss (or only its gradients) NaN on the batches for which bad(n) holds,
    n counting the batches the step function has seen from 1. Returns the counter."""
    batches = tf.Variable(0, dtype=tf.int64, trainable=False)
    terms_fn = trainer.train_step.loss_terms

    def poisoned(images, labels):
        number = batches.assign_add(1)
        data_loss, *rest = terms_fn(images, labels)
        if how == "loss":
            data_loss = tf.where(bad(number), tf.constant(float("nan")), data_loss)
        else:
            data_loss = tf.cond(bad(number), lambda: _nan_gradient(data_loss), lambda: data_loss)
        return (data_loss, *rest)

    trainer.train_step.loss_terms = poisoned
    return batches


def _finite(trainer):
    return all(np.isfinite(v.numpy()).all() for v in trainer.state.model.trainable_variables)


def test_stop_policy_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path, data_dir):
    trainer = training.Trainer(_config(tmp_path, data_dir, nan_policy="stop"))
    batches = _poison(trainer, lambda n: tf.equal(n, 8))
    with pytest.raises(NonFiniteLossError) as info:
        trainer.train()
    # Batches 1-7 were applied; the 8th was not.
    assert (info.value.step, int(trainer.state.step), int(batches)) == (7, 7, 8)
    message = str(info.value)
    assert "loss is nan at step 7 (learning rate 0.1)" in message
    latest = tf.train.latest_checkpoint(str(tmp_path / "train"))
    assert latest.endswith("ckpt-5") and info.value.last_checkpoint == latest
    assert f"the last good checkpoint, {latest}, is intact" in message
    assert int(kill_harness.read_checkpoint(latest)[kill_harness.STEP_KEY]) == 5
    assert _finite(trainer)


@pytest.mark.parametrize("how", ["loss", "gradients"])
def test_skip_batch_skips_the_bad_batches_and_reaches_max_steps(tmp_path, data_dir, capsys,
                                                              monkeypatch, how):
    monkeypatch.setattr(loss_watch, "MAX_SKIPPED_IN_A_ROW", 2)
    trainer = training.Trainer(_config(tmp_path, data_dir, nan_policy="skip_batch"))
    batches = _poison(trainer, lambda n: tf.equal(n % 4, 0), how)  # batches 4, 8, 12
    assert trainer.train() == 12
    # 12 updates from batches 1-3, 5-7, 9-11, 13-15; the skipped batches are not retried.
    assert int(batches) == 15
    out = capsys.readouterr().out
    skipped = re.findall(r": step (\d+): skipped 1 batch\(es\) with a non-finite loss or "
                         r"gradients", out)
    assert skipped == ["3", "6", "9"]
    assert _finite(trainer)
    latest = tf.train.latest_checkpoint(str(tmp_path / "train"))
    assert latest.endswith("ckpt-12")
    assert all(np.isfinite(v).all() for v in kill_harness.read_checkpoint(latest).values())


def test_skip_batch_gives_up_after_max_skipped_in_a_row(tmp_path, data_dir, capsys,
                                                        monkeypatch):
    monkeypatch.setattr(loss_watch, "MAX_SKIPPED_IN_A_ROW", 3)
    # A huge learning rate: the first update is finite, every loss after it is NaN.
    trainer = training.Trainer(_config(tmp_path, data_dir, nan_policy="skip_batch",
                                       learning_rate=1e38, save_checkpoint_steps=1))
    with pytest.raises(NonFiniteLossError) as info:
        trainer.train()
    assert info.value.step == 1 and int(trainer.state.step) == 1
    assert "at step 1 (learning rate 1e+38)" in str(info.value)
    out = capsys.readouterr().out
    assert out.count("step 1: skipped 1 batch(es)") == 3
    assert info.value.last_checkpoint.endswith("ckpt-1")
    assert tf.train.latest_checkpoint(str(tmp_path / "train")).endswith("ckpt-1")
    assert _finite(trainer)
