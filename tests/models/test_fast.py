"""The airbench networks fast93/fast94: shapes, data-dependent init, decay, a few steps."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import models
from convnet.benchmarking import flops
from convnet.models import fast
from convnet.nn import layers, ops, whitening

from helpers import train_steps, xla_compiled_calls


def _built(name, weight_decay=None, shape=(32, 32, 3)):
    model = models.build_model(name, 10, weight_decay)
    model(tf.zeros([1, *shape]))
    return model


@pytest.mark.parametrize("name", ["fast93", "fast94"])
def test_forward_with_a_dynamic_batch_and_one_image(name):
    model = _built(name)
    assert model.image_size is None and model.init_examples == 5000
    fn = tf.function(lambda x, training: model(x, training=training), reduce_retracing=True)
    for batch, training in ((1, False), (3, True), (1, True), (5, False)):
        logits = fn(tf.random.normal([batch, 32, 32, 3]), training)
        assert logits.shape == (batch, 10)
        assert np.isfinite(logits.numpy()).all()


def test_gelus_are_xla_fused_unless_plain_ops_are_asked_for():
    # Training and evaluation fuse each GELU; an inference graph traced for export (SavedModel,
    # TFLite, ONNX: convnet.serving traces inside ops.plain_ops) holds no XLA-compiled call.
    model = _built("fast93")

    def xla_calls(training):
        return xla_compiled_calls(lambda x: model(x, training=training),
                                  tf.TensorSpec([2, 32, 32, 3]))

    assert xla_calls(True) == 7  # the whitening output's GELU and two a group
    assert xla_calls(False) == 7
    with ops.plain_ops():
        assert xla_calls(False) == 0


def test_layout_widths_and_names():
    model = _built("fast94")
    shapes = {v.name.split(":")[0]: tuple(v.shape) for v in model.variables}
    assert shapes["fast94/whiten/kernel"] == (2, 2, 3, 24)
    assert shapes["fast94/whiten/bias"] == (24,)
    assert shapes["fast94/group1/conv1/kernel"] == (3, 3, 24, 64)
    assert shapes["fast94/group2/conv1/kernel"] == (3, 3, 64, 256)
    assert shapes["fast94/group3/conv2/kernel"] == (3, 3, 256, 256)
    assert shapes["fast94/logits/kernel"] == (256, 10)
    assert "fast94/group1/bn1/gamma" not in shapes and shapes["fast94/group1/bn1/beta"] == (64,)
    trainable = {v.name for v in model.trainable_variables}
    assert "fast94/whiten/kernel:0" not in trainable and "fast94/whiten/bias:0" in trainable
    assert not any("bias" in name and "whiten" not in name for name in trainable)
    bn = model.groups[0].bn1
    assert (bn.momentum, bn.epsilon, bn.scale, bn.center) == (0.6, 1e-12, False, True)


def test_group_convs_start_as_identity_and_the_rest_as_torch_uniform():
    model = _built("fast94")
    for group in model.groups:
        conv1, conv2 = group.conv1.kernel.numpy(), group.conv2.kernel.numpy()
        in_channels = conv1.shape[2]
        np.testing.assert_array_equal(conv2, layers.identity_kernel([3, 3], *conv2.shape[2:]))
        np.testing.assert_array_equal(conv1[..., :in_channels],
                                      layers.identity_kernel([3, 3], in_channels, in_channels))
    # Only group1 conv1 (24 -> 64) and group2 conv1 (64 -> 256) have filters beyond the identity.
    for conv in (model.groups[0].conv1, model.groups[1].conv1):
        in_channels = conv.kernel.shape[2]
        rest = conv.kernel.numpy()[..., in_channels:]
        bound = 1 / np.sqrt(9 * in_channels)  # the float32 draw may equal it rounded up
        assert np.abs(rest).max() <= np.float32(bound) and rest.std() > 0.5 * bound
    assert np.abs(model.logits.kernel.numpy()).max() <= 1 / np.sqrt(256)


def test_logits_are_the_dense_output_over_9():
    model = _built("fast93")
    x = tf.random.normal([2, 32, 32, 3])
    features = []
    with layers.observe_calls(lambda layer, out: features.append(out)
                              if layer is model.flatten else None):
        logits = model(x)
    np.testing.assert_allclose(logits.numpy(), (features[0] @ model.logits.kernel).numpy() / 9,
                               rtol=1e-5, atol=1e-6)
    assert features[0].shape == (2, 128)  # 32 -> 31 -> 15 -> 7 -> 3 -> 1


def test_initialize_from_data_sets_the_frozen_kernel_and_builds_the_model(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(64, 32, 32, 3)).astype(np.float32)
    images += 0.5 * np.roll(images, 1, axis=2)
    model = models.build_model("fast93")
    assert models.has_data_init(model) and not models.has_data_init(models.build_model("lenet5"))
    model.initialize_from_data(images)  # builds the model first
    expected = whitening.patch_whitening_kernel(images, 2, 5e-4)
    np.testing.assert_allclose(model.whiten.kernel.numpy(), expected.numpy(), rtol=1e-6)
    assert not model.whiten.kernel.trainable
    # The first 12 whitened channels (before bias and GELU) have ~identity second moments.
    out = tf.nn.conv2d(images, model.whiten.kernel[..., :12], 1,
                       "VALID").numpy().reshape(-1, 12)
    np.testing.assert_allclose(out.T @ out / len(out), np.eye(12), atol=0.02)
    # A checkpoint carries the kernel: a fresh model restored from it needs no init.
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    restored = _built("fast93")
    tf.train.Checkpoint(model=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(restored.whiten.kernel.numpy(), model.whiten.kernel.numpy())
    np.testing.assert_array_equal(restored(images[:2]).numpy(), model(images[:2]).numpy())


def test_weight_decay_is_carried_by_every_trainable_variable():
    model = _built("fast94", weight_decay=5e-4)
    assert len(model.trainable_variables) == 14
    assert all(ops.weight_decay_of(v) == 5e-4 for v in model.trainable_variables)
    assert all(ops.weight_decay_of(v) is None for v in model.variables if not v.trainable)
    plain = _built("fast94")
    assert all(ops.weight_decay_of(v) is None for v in plain.variables)


def test_grey_28x28_inputs_get_an_8_filter_whitening():
    model = _built("fast93", shape=(28, 28, 1))
    assert model.whiten.kernel.shape == (2, 2, 1, 8)
    assert model(tf.zeros([2, 28, 28, 1])).shape == (2, 10)


def test_flops_per_example():
    # MACs (fast94): whiten 31*31*24*2*2*3 = 276,768; group1 31*31*64*9*24 + 15*15*64*9*64
    # = 21,579,264; group2 15*15*256*9*64 + 7*7*256*9*256 = 62,078,976; group3 7*7*256*9*256
    # + 3*3*256*9*256 = 34,209,792; dense 2,560: 118,147,360; forward FLOPs 2x, training 3x that.
    assert flops.model_flops(_built("fast94"), [32, 32, 3]) == {
        "forward_per_example": 236294720, "training_per_example": 708884160}
    assert flops.model_flops(_built("fast93"), [32, 32, 3]) == {
        "forward_per_example": 108447808, "training_per_example": 325343424}


def test_gradient_steps_lower_the_loss_and_leave_the_whitening_kernel_alone():
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(16, 32, 32, 3)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 10, size=16).astype(np.int32))
    model = models.build_model("fast93", weight_decay=5e-4)
    model.initialize_from_data(images)
    kernel = model.whiten.kernel.numpy()
    optimizer = tf.keras.optimizers.SGD(0.2, momentum=0.9, nesterov=True)
    losses = train_steps(model, images, labels, optimizer, 8)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    np.testing.assert_array_equal(model.whiten.kernel.numpy(), kernel)
    assert float(tf.reduce_max(tf.abs(model.groups[0].bn1.moving_mean))) > 0


@pytest.mark.slow  # 25-50 s on 2 busy cores, nearly all of it tracing the Trainer's step
def test_three_trainer_steps_on_synthetic_data(tmp_path):
    from convnet import training  # pylint: disable=import-outside-toplevel
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_source="synthetic", model="fast93",
        max_steps=3, batch_size=8, optimizer="sgd", momentum=0.9, nesterov=True,
        learning_rate=0.01, weight_decay=5e-4, shuffle_buffer=16, log_frequency=1,
        save_checkpoint_steps=3, num_parallel_calls=2)
    trainer = training.Trainer(config)
    assert trainer.train() == 3
    assert all(ops.weight_decay_of(v) == 5e-4 for v in trainer.state.model.trainable_variables)


def test_widths_are_validated():
    with pytest.raises(ValueError, match="widths"):
        fast.FastNet((64, 128))
