"""Mixed precision and XLA: the loss scale's rule, low-precision training, XLA equals eager."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import training
from convnet.data import pipeline
from convnet.runtime import precision


def test_compute_dtypes():
    assert precision.compute_dtype("float32") == tf.float32
    assert precision.compute_dtype("mixed_float16") == tf.float16
    assert precision.compute_dtype("mixed_bfloat16") == tf.bfloat16
    with pytest.raises(ValueError,
                       match="choose from float32, mixed_float16, mixed_bfloat16, auto"):
        precision.compute_dtype("float8")


def test_dynamic_loss_scale_follows_its_rule():
    scale = precision.DynamicLossScale(initial=8.0, growth_steps=3)
    expected, good = 8.0, 0
    pattern = [True, True, True, False, True, False, False, False, False, True, True, True, True]
    for finite in pattern:  # numpy model of the rule
        scale.update(tf.constant(finite))
        if finite:
            good += 1
            if good >= 3:
                expected, good = expected * 2, 0
        else:
            expected, good = max(expected / 2, 1.0), 0
        assert float(scale.value) == expected and int(scale.good_steps) == good
    np.testing.assert_allclose(float(scale.scale(tf.constant(3.0))), 3.0 * expected)
    grads = scale.unscale([tf.constant([2.0 * expected], tf.float16), None])
    assert grads[0].dtype == tf.float32 and grads[1] is None
    np.testing.assert_allclose(grads[0].numpy(), [2.0])


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_source="synthetic", max_steps=6,
                  batch_size=32, optimizer="adam", log_frequency=3, save_checkpoint_steps=3,
                  num_parallel_calls=2)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_variables(tmp_path, mode):
    trainer = training.Trainer(_config(tmp_path, precision=mode))
    images, labels = next(iter(pipeline.eval_dataset(trainer.source, "test", 8)))
    low = precision.compute_dtype(mode)
    # the model computes in low precision
    assert trainer.state.model(tf.cast(images, low)).dtype == low
    before = float(trainer.train_step.loss(images, labels))
    assert trainer.train() == 6
    assert all(v.dtype == tf.float32 for v in trainer.state.model.variables)
    assert float(trainer.train_step.loss(images, labels)) < before
    reader = tf.train.load_checkpoint(str(tmp_path / "train"))
    has_scale = any("loss_scale" in name for name, _ in tf.train.list_variables(reader._filename
                    if hasattr(reader, "_filename") else str(tmp_path / "train")))
    assert has_scale == (mode == "mixed_float16")


@pytest.mark.slow
def test_float16_overflow_skips_the_step_and_halves_the_scale(tmp_path):
    trainer = training.Trainer(_config(tmp_path, precision="mixed_float16"))
    trainer.state.loss_scale.value.assign(2.0 ** 40)  # scaled float16 gradients overflow
    weights = [v.numpy() for v in trainer.state.model.trainable_variables]
    loss, finite, skipped = trainer.setup.run_steps(trainer.setup.train_iterator(), 1)[:3]
    assert bool(finite) and int(skipped) == 1 and int(trainer.state.step.numpy()) == 0
    assert float(trainer.state.loss_scale.value) == 2.0 ** 39
    for before, var in zip(weights, trainer.state.model.trainable_variables, strict=True):
        np.testing.assert_array_equal(before, var.numpy())


@pytest.mark.slow
def test_xla_step_equals_an_eager_sgd_step(tmp_path):
    trainer = training.Trainer(_config(tmp_path, xla=True, optimizer="sgd", learning_rate=0.1))
    # Normal noise keeps ReLU inputs away from 0, where float32 rounding (different in
    # eager, graph and XLA) can flip a unit on or off and move upstream gradients by percents.
    images = tf.random.stateless_normal([32, 24, 24, 3], seed=[1, 2])
    labels = tf.random.stateless_uniform([32], seed=[3, 4], maxval=10, dtype=tf.int32)
    _, grads = trainer.train_step.gradients(images, labels)  # eager: no graph rewrites, no XLA
    expected = [v.numpy() - 0.1 * g.numpy()
                for v, g in zip(trainer.state.model.trainable_variables, grads, strict=True)]
    batches = trainer.setup.distribute(tf.data.Dataset.from_tensors((images, labels)))
    trainer.setup.run_steps(batches, 1)
    assert int(trainer.state.step.numpy()) == 1
    for want, var in zip(expected, trainer.state.model.trainable_variables, strict=True):
        np.testing.assert_allclose(var.numpy(), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("flags,gpus,expected", [
    ({"avx2", "avx512f", "avx512_bf16"}, [], "mixed_bfloat16"),
    ({"avx2", "amx_bf16", "amx_tile"}, [], "mixed_bfloat16"),
    ({"avx2", "avx512f"}, [], "float32"),
    (set(), [], "float32"),
    ({"avx512_bf16"}, [(8, 0), (9, 0)], "mixed_float16"),  # a GPU decides, not the CPU
    ({"avx512_bf16"}, [(6, 1)], "float32"),  # Pascal: no tensor cores
])
def test_auto_precision_follows_the_hardware(flags, gpus, expected):
    choice = precision.choose(flags, gpus)
    assert choice.precision == expected
    assert choice.line.startswith(f"--precision=auto: {expected} (")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n"
                       "flags\t\t: fpu\n")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()
    assert precision.choose(precision.cpu_flags(str(cpuinfo)), []).precision == "mixed_bfloat16"


def test_auto_is_this_machines_choice():
    assert precision.resolve("auto") == precision.this_machine().precision
    assert precision.resolve("mixed_float16") == "mixed_float16"
    assert precision.compute_dtype("auto") == precision.compute_dtype(
        precision.this_machine().precision)
