"""Evaluation inside a run: epoch ends, and the precision written beside the training curves."""

import os

import numpy as np
import pytest
import tensorflow as tf

from convnet import training
from convnet.data import pipeline
from convnet.evaluation import confusion
from convnet.reports import event_tensors, events
from convnet.runtime import timing
from convnet.training.in_run_evaluation import TrainingEvaluation, next_epoch_end

from fake_data import write_mnist


@pytest.mark.parametrize("step, steps_per_epoch, expected", [
    (0, 48.828125, 49), (48, 48.828125, 49), (49, 48.828125, 98), (97, 48.828125, 98),
    (0, 10.0, 10), (10, 10.0, 20), (9, 10.0, 10)])
def test_next_epoch_end_is_the_ceiling_of_the_next_multiple(step, steps_per_epoch, expected):
    assert next_epoch_end(step, steps_per_epoch) == expected


def test_after_an_epoch_is_not_timed_and_at_end_is(tmp_path, capsys):
    """The epoch's and the end's precision against the model applied by hand to every test
    image (with and without its mirror image), and the clock: an epoch's evaluation is paused
    time, the end's is the 'evaluation' phase."""
    write_mnist(str(tmp_path / "data" / "mnist"), train=12, test=9, compress=False)
    trainer = training.Trainer(training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_dir=str(tmp_path / "data"), download=False,
        model="lenet5", dataset="mnist", max_steps=1, batch_size=4, num_parallel_calls=1,
        shuffle_buffer=8))
    trainer.close()
    evaluation = TrainingEvaluation(trainer.source, trainer.setup.input_settings,
                                    trainer.state.model, strategy=trainer.strategy,
                                    compute_dtype=tf.float32,
                                    train_dir=trainer.config.train_dir, is_chief=True)
    images, labels = [], []
    for image, label in trainer.source.dataset("test"):
        images.append(trainer.setup.preprocessing.evaluate(image).numpy())
        labels.append(int(label))
    images, labels = np.stack(images), np.array(labels)
    logits = trainer.state.model(images, training=False).numpy()
    mirrored = trainer.state.model(images[:, :, ::-1], training=False).numpy()
    plain = float(np.mean(logits.argmax(1) == labels))
    with_flips = float(np.mean((logits + mirrored).argmax(1) == labels))

    now = [100.0]
    clock = timing.Phases(origin=0.0, clock=lambda: now[0])
    clock.start("training")
    now[0] = 130.0
    evaluation.after_epoch(10, 5.0, clock)  # the fake clock does not move while it runs
    assert clock.running == "training" and "evaluation" not in clock.seconds
    assert clock.seconds == {"startup": 100.0, "training": 30.0}
    now[0] = 140.0
    precision = evaluation.at_end(10, "flip", clock)
    assert precision == pytest.approx(with_flips, abs=1e-9)
    assert clock.seconds == {"startup": 100.0, "training": 40.0, "evaluation": 0.0}
    out = capsys.readouterr().out
    count = len(labels)
    assert (f"epoch 2 (step 10): precision @ 1 = {plain:.4f} ({round(plain * count)} of "
            f"{count} test examples)") in out
    assert (f"precision @ 1 = {with_flips:.3f} ({round(with_flips * count)} of {count} test "
            f"examples; step 10, raw weights, flip TTA)") in out
    assert "time to accuracy 140.0 s: startup 100.0 s, training 40.0 s, evaluation 0.0 s" in out
    written = event_tensors.read_summaries(os.path.join(trainer.config.train_dir, "eval"))
    assert float(written["precision_at_1"][0][1]) == pytest.approx(plain, abs=1e-6)
    assert float(written["flip_tta_precision_at_1"][0][1]) == pytest.approx(with_flips, abs=1e-6)
    assert float(written["elapsed_seconds"][0][1]) == 130.0  # counted when epoch 2 ended
    evaluation.at_end(10, "none", clock)
    assert "examples; step 10, raw weights, no TTA)" in capsys.readouterr().out


def _run(tmp_path, cifar_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_dir=cifar_path, download=False,
                  model="simple3", max_steps=10, batch_size=8, optimizer="adam",
                  shuffle_buffer=40, log_frequency=5, save_checkpoint_steps=10,
                  num_parallel_calls=2, eval_every_steps=5)
    values.update(overrides)
    trainer = training.Trainer(training.TrainConfig.from_settings(**values))
    assert trainer.train() == 10
    return trainer, os.path.join(values["train_dir"], "eval")


def _expected_confusion(trainer, labels):
    """The confusion of the trained model on the evaluated split, whose true `labels` the
    test knows from the files."""
    dataset = pipeline.eval_dataset(trainer.source, trainer.evaluation.every_steps_split, 100,
                                    settings=trainer.setup.input_settings)
    logits = np.concatenate([trainer.state.model(x).numpy() for x, _ in dataset])
    expected = np.zeros([10, 10], np.int64)
    np.add.at(expected, (labels, logits.argmax(1)), 1)
    return expected


@pytest.mark.slow
def test_eval_every_steps_writes_what_the_eval_main_writes(tmp_path, cifar_dir, capsys):
    path, arrays = cifar_dir
    trainer, eval_dir = _run(tmp_path, path)
    scalars = events.read_event_scalars(eval_dir)
    assert [step for step, _ in scalars["precision_at_1"]] == [5, 10]
    assert any(tag.startswith("class_precision_at_1/") for tag in scalars)
    names, counts = confusion.read_csv(os.path.join(eval_dir, "confusion_matrix_step_10.csv"))
    assert counts.sum() == 10 and names[1] == "automobile"
    np.testing.assert_array_equal(counts, _expected_confusion(trainer, arrays["test"][1]))
    assert scalars["precision_at_1"][-1][1] == pytest.approx(np.trace(counts) / 10)
    assert os.path.isfile(os.path.join(eval_dir, "confusion_matrix_step_5.csv"))
    assert "confusion_matrix" in event_tensors.plugin_tags(eval_dir, "images")
    assert "step 5: precision @ 1 = " in capsys.readouterr().out


@pytest.mark.slow
def test_validation_examples_are_held_out_and_evaluated(tmp_path, cifar_dir):
    path, arrays = cifar_dir
    trainer, eval_dir = _run(tmp_path, path, validation_examples=8)
    assert trainer.source.num_examples("train") == 32 and trainer.setup.steps_per_epoch == 4
    _, counts = confusion.read_csv(os.path.join(eval_dir, "confusion_matrix_step_10.csv"))
    assert counts.sum() == 8
    np.testing.assert_array_equal(counts, _expected_confusion(trainer, arrays["train"][1][32:]))


def test_validation_examples_need_eval_every_steps(tmp_path):
    with pytest.raises(ValueError, match="--validation_examples needs --eval_every_steps"):
        training.TrainConfig.from_settings(
            train_dir=str(tmp_path), validation_examples=5).validate()
