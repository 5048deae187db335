"""Evaluation of checkpoints: EMA weights, run.json, checkpoints, loop mode."""

import json
import os
import threading
import time
import types

import numpy as np
import pytest

from convnet import evaluation, training
from convnet.checkpoints import files as checkpoint_files
from convnet.evaluation import evaluator
from convnet.runtime.errors import CheckpointError, DamagedCheckpointError

from helpers import write_train_dir


def _train(tmp_path, cifar_path, max_steps=10):
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_dir=cifar_path, download=False, max_steps=max_steps,
        batch_size=8, optimizer="adam", shuffle_buffer=40, log_frequency=5,
        save_checkpoint_steps=5, num_parallel_calls=2)
    training.Trainer(config).train()
    return config.train_dir


def _eval_config(tmp_path, train_dir, cifar_path, **overrides):
    values = dict(checkpoint_dir=train_dir, eval_dir=str(tmp_path / "eval"), data_dir=cifar_path,
                  download=False, batch_size=4, run_once=True, num_parallel_calls=2)
    values.update(overrides)
    return evaluation.EvalConfig.from_settings(**values)


@pytest.mark.slow
def test_evaluator_counts_each_example_once_and_agrees_with_the_model(tmp_path, cifar_dir):
    path, arrays = cifar_dir
    train_dir = _train(tmp_path, path)
    evaluator = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, use_ema=False))
    result = evaluator.run()
    assert result.num_examples == 10 and result.step == 10  # 4 + 4 + 2, nothing padded
    logits = np.concatenate([evaluator.model(x).numpy() for x, _ in evaluator.dataset])
    expected = int((logits.argmax(1) == arrays["test"][1]).sum())
    assert result.num_correct == expected
    everything = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, top_k=10)).run()
    assert everything.precision == 1.0


@pytest.mark.slow
def test_num_examples_evaluates_a_prefix_exactly(tmp_path, cifar_dir):
    path, _ = cifar_dir
    train_dir = _train(tmp_path, path)
    result = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, num_examples=7)).run()
    assert result.num_examples == 7


@pytest.mark.slow
def test_ema_weights_are_used_by_default(tmp_path, cifar_dir):
    path, _ = cifar_dir
    train_dir = _train(tmp_path, path)
    ema = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path))
    ema.run()
    raw = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, use_ema=False))
    raw.run()
    for shadow, a, _ in zip(ema.state.ema.shadows, ema.model.trainable_variables,
                            raw.model.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), shadow.numpy())
    assert any(not np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(ema.model.trainable_variables, raw.model.trainable_variables,
                               strict=True))


@pytest.mark.slow
def test_loop_mode_stops_after_the_last_step(tmp_path, cifar_dir, capsys):
    path, _ = cifar_dir
    train_dir = _train(tmp_path, path, max_steps=10)
    result = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, run_once=False,
                                               eval_interval_secs=0)).run()
    assert result.step == 10
    assert "reached the run's max_steps" in capsys.readouterr().out


@pytest.mark.slow
def test_loop_mode_beside_a_training_run_sees_each_checkpoint_at_most_once(
        tmp_path, cifar_dir, monkeypatch):
    path, _ = cifar_dir
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_dir=path, max_steps=16, batch_size=8,
        shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2, max_checkpoints_to_keep=1,
        num_parallel_calls=2, download=False)
    trainer = training.Trainer(config)
    evaluated = []
    original = evaluation.Evaluator.evaluate_checkpoint

    def record(self, checkpoint):
        result = original(self, checkpoint)
        evaluated.append(result.step)
        return result

    monkeypatch.setattr(evaluation.Evaluator, "evaluate_checkpoint", record)
    errors = []

    def train():
        try:
            trainer.train()
        except Exception as e:  # noqa: BLE001 -- reported by the assertion below
            errors.append(e)

    late = []

    def sleep(seconds):  # the evaluator waits for checkpoints, not for a trainer that died
        assert not errors, f"training failed: {errors[0]!r}"
        if not thread.is_alive():
            late.append(seconds)
            assert len(late) <= 5, "the evaluator still waits after training ended"
        time.sleep(seconds)

    monkeypatch.setattr(evaluator, "time", types.SimpleNamespace(sleep=sleep,
                                                                  monotonic=time.monotonic))
    thread = threading.Thread(target=train)
    thread.start()
    try:
        result = evaluation.evaluate(_eval_config(  # waits for the trainer's run.json
            tmp_path, config.train_dir, path, run_once=False, eval_interval_secs=0))
    finally:
        thread.join()
    assert not errors
    assert result.step == 16 and evaluated[-1] == 16
    assert evaluated == sorted(set(evaluated))  # never the same checkpoint twice


@pytest.mark.slow
def test_loop_mode_skips_a_checkpoint_deleted_while_it_is_read(
        tmp_path, cifar_dir, monkeypatch, capsys):
    path, _ = cifar_dir
    train_dir = _train(tmp_path, path, max_steps=10)
    original = evaluation.Evaluator.evaluate_checkpoint

    def deleted_by_the_trainer(self, checkpoint):
        if checkpoint_files.step_of(checkpoint) == 5:  # max_to_keep deletes it mid-read
            for name in checkpoint_files.checkpoint_files(checkpoint):
                os.remove(name)
            raise DamagedCheckpointError(f"cannot restore {checkpoint}", checkpoint, "missing")
        return original(self, checkpoint)

    monkeypatch.setattr(evaluation.Evaluator, "evaluate_checkpoint", deleted_by_the_trainer)
    result = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, run_once=False,
                                               eval_interval_secs=0)).run()
    assert result.step == 10
    assert "ckpt-5 was deleted" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(train_dir, "corrupt"))


def test_no_checkpoint_is_a_clear_error(tmp_path, cifar_dir):
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        evaluation.Evaluator(_eval_config(tmp_path, str(tmp_path / "empty"), cifar_dir[0])).run()


def test_top_k_beyond_the_classes_is_refused(tmp_path, cifar_dir):
    with pytest.raises(ValueError, match="exceeds the 10 classes"):
        evaluation.Evaluator(_eval_config(tmp_path, str(tmp_path), cifar_dir[0], top_k=11,
                                          model="cifar10"))


@pytest.mark.slow
def test_the_confusion_matrix_goes_to_a_csv_and_an_image(tmp_path, cifar_dir):
    from convnet.evaluation import confusion
    from convnet.reports import event_tensors

    path, arrays = cifar_dir
    train_dir = _train(tmp_path, path)
    evaluator = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path, use_ema=False))
    result = evaluator.run()
    names, counts = confusion.read_csv(str(tmp_path / "eval" / "confusion_matrix_step_10.csv"))
    assert names == [evaluator.info.class_name(c) for c in range(10)] and names[0] == "airplane"
    np.testing.assert_array_equal(counts, result.confusion)
    logits = np.concatenate([evaluator.model(x).numpy() for x, _ in evaluator.dataset])
    expected = np.zeros([10, 10], np.int64)
    np.add.at(expected, (arrays["test"][1], logits.argmax(1)), 1)
    np.testing.assert_array_equal(counts, expected)
    images = event_tensors.read_summaries(str(tmp_path / "eval"))["confusion_matrix"]
    assert [(step, plugin) for step, _, plugin in images] == [(10, "images")]


def test_a_run_without_a_moving_average_is_evaluated_with_its_raw_weights(tmp_path, cifar_dir,
                                                                           capsys):
    path, _ = cifar_dir
    train_dir, model, _, _ = write_train_dir(tmp_path / "train")  # EMA = raw / 2
    record = json.loads((tmp_path / "train" / "run.json").read_text())
    record["settings"] = {"moving_average_decay": 0.0}
    (tmp_path / "train" / "run.json").write_text(json.dumps(record))
    evaluator_ = evaluation.Evaluator(_eval_config(tmp_path, train_dir, path))
    evaluator_.run()
    assert "step 7, raw weights)" in capsys.readouterr().out
    for original, variable in zip(model.trainable_variables,
                                  evaluator_.model.trainable_variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), original.numpy())
