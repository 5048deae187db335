"""tf.distribute: mirrored replicas equal one device, a two-process cluster trains and resumes,
and checkpoints move between strategies."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import LOGICAL_CPUS
from convnet import distribute, evaluation, training
from convnet.data import pipeline

HERE = os.path.dirname(os.path.abspath(__file__))


def _config(train_dir, **overrides):
    values = dict(train_dir=str(train_dir), data_source="synthetic", max_steps=1, batch_size=128,
                  optimizer="adam", num_parallel_calls=2, log_frequency=2,
                  save_checkpoint_steps=4)
    values.update(overrides)
    return training.TrainConfig(**values)


def _mirrored():
    return tf.distribute.MirroredStrategy(LOGICAL_CPUS)


def _one_step_weights(tmp_path, strategy, name, **overrides):
    """Weights and EMA after one step from the same initial weights and batch."""
    tf.random.set_seed(0)
    trainer = training.Trainer(_config(tmp_path / name, **overrides), strategy=strategy)
    reference = training.Trainer(_config(tmp_path / (name + "_init"), **overrides))
    for target, source in zip(trainer.model.variables, reference.model.variables):
        target.assign(source)
    trainer.ema.build(trainer.variables)
    for shadow, var in zip(trainer.ema.shadows, trainer.variables):
        shadow.assign(var)
    batch = next(iter(pipeline.eval_dataset(trainer.source, "test", 128)))
    loss, finite, skipped, _ = trainer.run_steps(
        trainer.distribute(tf.data.Dataset.from_tensors(batch).repeat()), 1)
    assert bool(finite) and int(skipped) == 0 and int(trainer.step.numpy()) == 1
    return float(loss), [v.numpy() for v in [*trainer.model.variables, *trainer.ema.shadows]]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_two_mirrored_replicas_make_the_same_step_as_one_device(tmp_path, optimizer):
    strategy = _mirrored()
    assert strategy.num_replicas_in_sync == 2
    loss_one, weights_one = _one_step_weights(tmp_path, None, "one", optimizer=optimizer)
    loss_two, weights_two = _one_step_weights(tmp_path, strategy, "two", optimizer=optimizer)
    np.testing.assert_allclose(loss_two, loss_one, rtol=1e-6)
    for one, two in zip(weights_one, weights_two):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)


def test_the_global_batch_must_split_evenly(tmp_path):
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        training.Trainer(_config(tmp_path, batch_size=15), strategy=_mirrored())


def test_mirrored_checkpoint_restores_and_evaluates_under_the_default_strategy(tmp_path):
    train_dir = tmp_path / "train"
    mirrored = training.Trainer(_config(train_dir, max_steps=4, batch_size=32),
                                strategy=_mirrored())
    assert mirrored.train() == 4
    weights = [v.numpy() for v in mirrored.model.variables]

    resumed = training.Trainer(_config(train_dir, max_steps=6, batch_size=32))
    assert resumed.restore() == 4
    for saved, restored in zip(weights, resumed.model.variables):
        np.testing.assert_array_equal(saved, restored.numpy())
    assert resumed.train() == 6

    def evaluate(**overrides):
        config = evaluation.EvalConfig(checkpoint_dir=str(train_dir),
                                       eval_dir=str(tmp_path / "eval"), data_source="synthetic",
                                       batch_size=48, num_examples=100, run_once=True,
                                       **overrides)
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
    batches = list(evaluation.with_weights(dataset, batch_size=2))
    assert [b[0].shape[0] for b in batches] == [2, 2, 2]
    np.testing.assert_array_equal(batches[-1][2].numpy(), [1, 0])
    np.testing.assert_array_equal(batches[-1][1].numpy(), [4, 0])


def test_strategy_names_and_the_chief():
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    assert distribute.is_chief(tf.distribute.get_strategy())
    assert distribute.write_dir("/t", tf.distribute.get_strategy()) == "/t"
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
