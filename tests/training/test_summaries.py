"""What training writes for TensorBoard: the training scalars, histograms and hparams."""

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import plugin_data_pb2

from convnet import training
from convnet.nn import layers
from convnet.reports import event_tensors, events
from convnet.training import summaries
from convnet.training.step import StepMetrics


def _config(tmp_path, cifar_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_dir=cifar_path, download=False,
                  model="simple3", max_steps=10, batch_size=8, optimizer="adam",
                  weight_decay=1e-3, shuffle_buffer=40, log_frequency=5,
                  save_checkpoint_steps=10, num_parallel_calls=2)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def _metrics(hits, examples, cross_entropy=1.0, weight_decay=0.5):
    empty = tf.zeros([0])
    return StepMetrics(tf.constant(cross_entropy), tf.constant(weight_decay),
                       tf.constant(hits, tf.int64), tf.constant(examples, tf.int64), empty, empty)


def test_training_scalars_accumulate_accuracy_over_the_interval_and_average_the_loss(tmp_path):
    scalars = summaries.TrainingScalars()
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=1):
        scalars.add(_metrics(3, 8))
        scalars.add(_metrics(5, 8, cross_entropy=2.0, weight_decay=0.25))
        first = scalars.write(2.25)
    with writer.as_default(step=2):
        scalars.add(_metrics(1, 4))
        second = scalars.write(1.0)
    assert first == {"total_loss": 2.25, "loss_moving_average": 2.25, "cross_entropy": 2.0,
                     "weight_decay": 0.25, "train_accuracy": 0.5}
    # Zero-debiased: (0.9 * 0.1 * 2.25 + 0.1 * 1.0) / (1 - 0.81).
    assert math.isclose(second["loss_moving_average"], (0.09 * 2.25 + 0.1) / 0.19)
    assert second["train_accuracy"] == 0.25
    assert math.isclose(scalars.average(float("nan")), second["loss_moving_average"])


@pytest.mark.slow
def test_training_writes_scalars_that_add_up(tmp_path, cifar_dir):
    config = _config(tmp_path, cifar_dir[0])
    training.Trainer(config).train()
    scalars = events.read_event_scalars(config.train_dir)
    for tag in ("cross_entropy", "weight_decay", "total_loss", "loss_moving_average",
                "train_accuracy"):
        assert [step for step, _ in scalars[tag]] == [5, 10], tag
    losses = [value for _, value in scalars["loss"]]
    assert [value for _, value in scalars["total_loss"]] == losses
    for (_, xent), (_, decay), loss in zip(scalars["cross_entropy"], scalars["weight_decay"],
                                           losses, strict=True):
        assert decay > 0 and math.isclose(xent + decay, loss, rel_tol=1e-5)
    average = [value for _, value in scalars["loss_moving_average"]]
    assert math.isclose(average[0], losses[0], rel_tol=1e-6)
    assert math.isclose(average[1], (0.09 * losses[0] + 0.1 * losses[1]) / 0.19, rel_tol=1e-6)
    assert all(0 <= value <= 1 for _, value in scalars["train_accuracy"])


@pytest.mark.slow
def test_histograms_cover_every_variable_gradient_and_layer_and_change_nothing(
        tmp_path, cifar_dir):
    plain = training.Trainer(_config(tmp_path / "plain", cifar_dir[0]))
    plain.train()
    config = _config(tmp_path, cifar_dir[0], histogram_frequency=5)
    trainer = training.Trainer(config)
    trainer.train()
    for a, b in zip(plain.state.model.variables, trainer.state.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    written = event_tensors.read_summaries(config.train_dir)
    histograms = event_tensors.plugin_tags(config.train_dir, "histograms")
    for variable in trainer.state.model.trainable_variables:
        name = variable.name.split(":")[0]
        assert {name, f"gradients/{name}"} <= histograms
        assert [entry[0] for entry in written[name]] == [5, 10]
    assert "activations/simple3/conv1" in histograms
    assert "activations/simple3" not in histograms  # the model's output is its last layer's
    sparsity = {tag: values for tag, values in events.read_event_scalars(config.train_dir).items()
                if tag.startswith("sparsity/")}
    assert "sparsity/simple3/conv1" in sparsity
    assert all(0 <= value <= 1 for values in sparsity.values() for _, value in values)


def test_histograms_sparsity_is_the_zero_fraction_of_each_layer_output(tmp_path, cifar_dir):
    trainer = training.Trainer(_config(tmp_path, cifar_dir[0]))
    images = tf.random.stateless_normal([8, 32, 32, 3], seed=[1, 2])
    labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7], tf.int64)
    outputs = {}

    def observe(layer, output):
        outputs.setdefault(layer.name_scope.name.rstrip("/"), output)

    with layers.observe_calls(observe):
        trainer.state.model(images, training=True)
    with tf.summary.create_file_writer(str(tmp_path / "h")).as_default(step=1):
        sparsity = summaries.Histograms(trainer.train_step).write(images, labels)
    for name in ("simple3/conv1", "simple3/logits"):
        expected = float(np.mean(outputs[name].numpy() == 0))
        assert sparsity[name] == pytest.approx(expected, abs=1e-6)


def test_hparams_hold_the_run_settings_and_its_metrics(tmp_path, cifar_dir):
    config = _config(tmp_path, cifar_dir[0], max_steps=5)
    training.Trainer(config).train()
    start, experiment = None, None
    for content in event_tensors.hparams_plugin_data(config.train_dir):
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            start = data.session_start_info
        if data.HasField("experiment"):
            experiment = data.experiment
    assert start.hparams["model"].string_value == "simple3"
    assert start.hparams["batch_size"].number_value == 8
    assert not start.hparams["deterministic"].bool_value and "max_steps" in start.hparams
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert {("", "loss"), ("eval", "precision_at_1")} <= metrics


def test_hparam_values_keep_plain_values_and_join_sequences():
    values = summaries.hparam_values({"a": 1, "b": None, "c": (1, 2), "d": "x", "e": {}})
    assert values == {"a": 1, "c": "1,2", "d": "x"}


@pytest.fixture
def without_op_determinism():
    """Unseeded dropout generators cannot be made while an earlier test's
    --deterministic run left op determinism on in this process."""
    from tensorflow.python.framework import config as tf_config
    was_on = tf_config.is_op_determinism_enabled()
    tf_config.disable_op_determinism()
    yield
    if was_on:
        tf_config.enable_op_determinism()


def test_histograms_put_back_batch_norm_statistics_and_dropout_generators(
        tmp_path, without_op_determinism):
    from convnet import models
    from convnet.checkpoints import state
    from convnet.optim import optimizers, schedules, variable_groups
    from convnet.training.step import TrainStep

    built = state.build(models.build_model("baseline", 10), [32, 32, 3], ema_decay=0.5,
                        optimizer=optimizers.make_optimizer("sgd"))
    step = TrainStep(built, schedules.Constant(0.1),
                     groups=variable_groups.assign([], built.model.trainable_variables,
                                    schedules.Epochs(10, 1)), batch_size=4)
    generators = built.model._flatten(predicate=lambda x: isinstance(x, tf.random.Generator))
    watched = [*built.model.variables, *(g.state for g in generators)]
    assert len(watched) > len(built.model.variables)  # the dropout generators are watched
    before = [v.numpy() for v in watched]
    images = tf.random.stateless_normal([4, 32, 32, 3], seed=[3, 4]) * 5 + 2
    with tf.summary.create_file_writer(str(tmp_path)).as_default(step=1):
        summaries.Histograms(step).write(images, tf.constant([1, 2, 3, 4], tf.int64))
    for old, variable in zip(before, watched, strict=True):
        np.testing.assert_array_equal(old, variable.numpy())
    assert "gradients/" + built.model.trainable_variables[0].name.split(":")[0] in \
        event_tensors.plugin_tags(str(tmp_path), "histograms")


def test_histogram_gradients_are_those_of_the_batch_alone():
    """With a global batch of 8, the histograms of a 4-example batch show the gradients of that
    batch's own mean loss (as a step whose global batch is 4 computes them), not half of them."""
    from convnet import models
    from convnet.checkpoints import state
    from convnet.optim import optimizers, schedules, variable_groups
    from convnet.training.step import TrainStep

    built = state.build(models.build_model("lenet5", 10, weight_decay=1e-3), [28, 28, 1],
                        ema_decay=0.5, optimizer=optimizers.make_optimizer("sgd"))
    groups = variable_groups.assign([], built.model.trainable_variables,
                                    schedules.Epochs(10, 1))
    steps = {batch: TrainStep(built, schedules.Constant(0.1),
                              groups=groups, batch_size=batch) for batch in (4, 8)}
    images = tf.random.stateless_normal([4, 28, 28, 1], seed=[5, 6])
    labels = tf.constant([1, 3, 5, 7], tf.int64)
    grads, _ = summaries.Histograms(steps[8])._compute(images, labels)
    _, expected = steps[4].gradients(images, labels)
    for grad, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-7)
