"""convnet.benchmarking.keras_peers: each Keras peer is our network, layer for layer."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from convnet import models, training
from convnet.benchmarking import keras_peers
from convnet.nn import layers


def _copy_weights(ours, peer, input_shape):
    """Copies our Conv2D/Dense/BatchNorm variables into the peer's layers, in call order."""
    order = []
    with layers.observe_calls(lambda layer, _: order.append(layer) if isinstance(
            layer, (layers.Conv2D, layers.Dense, layers.BatchNorm)) else None):
        ours(tf.zeros([1, *input_shape]))
    weighted = [layer for layer in peer.layers if layer.weights]
    assert len(order) == len(weighted)
    for mine, theirs in zip(order, weighted, strict=True):
        if isinstance(mine, layers.BatchNorm):
            pairs = [(theirs.gamma, mine.gamma), (theirs.beta, mine.beta),
                     (theirs.moving_mean, mine.moving_mean),
                     (theirs.moving_variance, mine.moving_variance)]
        else:
            pairs = [(theirs.kernel, mine.kernel), (theirs.bias, mine.bias)]
        for target, source in pairs:
            target.assign(source.numpy())


@pytest.mark.parametrize("name,input_shape,params", [
    ("cifar10", (24, 24, 3), 1_068_298), ("baseline", (32, 32, 3), 198_506),
    ("lenet5", (32, 32, 3), 62_006)])
def test_keras_peer_is_the_same_network(name, input_shape, params):
    ours = models.build_model(name)
    images = tf.random.stateless_normal([2, *input_shape], [0, 1])
    ours(images)
    peer = keras_peers.keras_model(name, 10, input_shape)
    assert peer.count_params() == models.count_params(ours) == params
    assert len(peer.losses) == (2 if name == "cifar10" else 0)  # decay on local3/local4 only
    _copy_weights(ours, peer, input_shape)
    np.testing.assert_allclose(peer(images, training=False).numpy(), ours(images).numpy(),
                               rtol=1e-4, atol=1e-4)


def test_models_without_a_peer_get_none():
    assert keras_peers.keras_model("resnet20", 10, (32, 32, 3)) is None


@pytest.mark.parametrize("optimizer,keras_class", [
    ("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam),
    ("adadelta", keras.optimizers.Adadelta)])
def test_keras_optimizer_keeps_the_weight_ema(optimizer, keras_class):
    config = dataclasses.replace(training.TrainConfig(), optimizer=optimizer)
    peer_optimizer = keras_peers.keras_optimizer(config)
    assert isinstance(peer_optimizer, keras_class) and peer_optimizer.use_ema
    assert peer_optimizer.ema_momentum == pytest.approx(config.moving_average_decay)
