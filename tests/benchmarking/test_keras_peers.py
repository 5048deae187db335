"""convnet.benchmarking.keras_peers: each Keras peer is our network, layer for layer."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from convnet import models, training
from convnet.benchmarking import keras_peers
from convnet.nn import layers, ops


def _perturb(ours):
    """Gives our biases, BatchNorm parameters and moving statistics random values (they start
    as constants), so that copying a wrong one shows in the logits."""
    for i, variable in enumerate(ours.variables):
        leaf = variable.name.split("/")[-1].split(":")[0]
        if leaf in ("gamma", "moving_variance"):
            low, high = 0.5, 1.5
        elif leaf in ("beta", "bias", "moving_mean"):
            low, high = -0.2, 0.2
        else:
            continue
        variable.assign(tf.random.stateless_uniform(variable.shape, [i, 7], low, high))


def _copy_weights(ours, peer, input_shape):
    """Copies our Conv2D/Dense/BatchNorm variables into the peer's layer named after their
    scope ('/' written '.', the model's name dropped); every peer layer with weights gets
    ours, with the same bias, gamma, beta and kernel trainability."""
    order = []
    with layers.observe_calls(lambda layer, _: order.append(layer) if isinstance(
            layer, (layers.Conv2D, layers.Dense, layers.BatchNorm)) else None):
        ours(tf.zeros([1, *input_shape]))
    copied = []
    for mine in order:
        scope = mine.variables[0].name.rsplit("/", 1)[0].split("/", 1)[1]
        theirs = peer.get_layer(scope.replace("/", "."))
        if isinstance(mine, layers.BatchNorm):
            assert (theirs.momentum, theirs.epsilon) == (mine.momentum, mine.epsilon)
            assert (theirs.center, theirs.scale) == (mine.center, mine.scale)
            pairs = [(theirs.moving_mean, mine.moving_mean),
                     (theirs.moving_variance, mine.moving_variance)]
            pairs += [(theirs.gamma, mine.gamma)] if mine.scale else []
            pairs += [(theirs.beta, mine.beta)] if mine.center else []
        else:
            assert theirs.use_bias == (mine.bias is not None)
            assert theirs.kernel.trainable == mine.kernel.trainable
            pairs = [(theirs.kernel, mine.kernel)]
            pairs += [(theirs.bias, mine.bias)] if theirs.use_bias else []
        assert len(pairs) == len(theirs.weights)
        for target, source in pairs:
            target.assign(source.numpy())
        copied.append(theirs.name)
    assert sorted(copied) == sorted(layer.name for layer in peer.layers if layer.weights)


# Our models are built with `weight_decay` (None: their default), so are the peers.
_DECAY = 5e-4
PEERS = [("cifar10", (24, 24, 3), None, 1_068_298), ("baseline", (32, 32, 3), None, 198_506),
         ("lenet5", (32, 32, 3), None, 62_006), ("resnet20", (32, 32, 3), _DECAY, 271_098),
         ("resnet56", (32, 32, 3), _DECAY, 857_082), ("resnet18", (32, 32, 3), _DECAY, 11_183_562),
         ("vgg16", (32, 32, 3), _DECAY, 15_262_026),
         pytest.param("densenet100_12", (32, 32, 3), _DECAY, 793_150,
                      marks=pytest.mark.slow),  # about 5 s: 100 layers built twice
         ("fast93", (32, 32, 3), _DECAY, 570_296), ("fast94", (32, 32, 3), _DECAY, 1_973_944)]


def test_every_peer_is_tested():
    names = [peer.values[0] if hasattr(peer, "values") else peer[0] for peer in PEERS]
    assert sorted(keras_peers.KERAS_PEERS) == sorted(names)


@pytest.mark.parametrize("name,input_shape,weight_decay,params", PEERS)
def test_keras_peer_is_the_same_network(name, input_shape, weight_decay, params):
    ours = models.build_model(name, weight_decay=weight_decay)
    images = tf.random.stateless_normal([2, *input_shape], [0, 1])
    ours(images)
    peer = keras_peers.keras_model(name, 10, input_shape, weight_decay=weight_decay)
    assert isinstance(peer, keras.Model)
    assert peer.count_params() == models.count_params(ours) == params
    trainable = sum(int(np.prod(weight.shape)) for weight in peer.trainable_weights)
    assert trainable == models.count_trainable_params(ours)
    decayed = [variable for variable in ours.variables
               if ops.weight_decay_of(variable) is not None]  # cifar10: local3, local4 only
    assert len(peer.losses) == len(decayed)
    _perturb(ours)
    _copy_weights(ours, peer, input_shape)
    # Within 1e-4 of the logits' scale: in inference mode at init the deep ResNets' activations
    # grow with depth (resnet56's logits reach ~1e5), and so do float32 rounding differences.
    expected = ours(images).numpy()
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(peer(images, training=False).numpy() / scale, expected / scale,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(float(sum(peer.losses)), float(ops.weight_decay_loss(ours)),
                               rtol=1e-5)


def test_a_peer_under_a_mixed_policy_computes_in_its_dtype():
    peer = keras_peers.keras_model("fast93", 10, (32, 32, 3), precision="mixed_bfloat16")
    logits = peer(tf.random.stateless_normal([2, 32, 32, 3], [0, 2]), training=False)
    assert logits.shape == (2, 10) and logits.dtype == tf.bfloat16
    assert np.isfinite(tf.cast(logits, tf.float32).numpy()).all()
    assert {weight.dtype for weight in peer.weights} == {"float32"}


def test_models_without_a_peer_get_none():
    assert keras_peers.keras_model("inception", 10, (32, 32, 3)) is None


@pytest.mark.parametrize("optimizer,keras_class", [
    ("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam),
    ("adadelta", keras.optimizers.Adadelta)])
def test_keras_optimizer_keeps_the_weight_ema(optimizer, keras_class):
    config = training.TrainConfig.from_settings(optimizer=optimizer)
    peer_optimizer = keras_peers.keras_optimizer(config)
    assert isinstance(peer_optimizer, keras_class) and peer_optimizer.use_ema
    assert peer_optimizer.ema_momentum == pytest.approx(config.optim.moving_average_decay)
