"""The library's defaults train every small zoo model: `convnet.fit(model=NAME, source=...)` with
nothing else set makes the loss fall on data of CIFAR-10's and MNIST's shapes.

The data: ten classes, each a coarse random colour pattern (4x4 blocks, so crops and flips keep
it) plus noise, as uint8 arrays in an ArraySource. A few hundred steps at a small batch separate
a model that learns (the cross-entropy falls below 0.7 ln 10 and the training top-1 rises to
three times chance) from one that stays at chance or diverges, as sigmoid LeNet-5 did under the old
default of plain SGD at 0.1 (--optimizer=auto now takes the model's preferred_optimizer).
"""

import math

import numpy as np
import pytest

import convnet
from convnet.data.sources.arrays import ArraySource
from convnet.training import Callback

CLASSES = 10
STEPS, BATCH = 250, 32
CIFAR, MNIST = (32, 32, 3), (28, 28, 1)
# Every zoo model whose step is cheap, on both shapes where it is cheapest; the large ones
# (vgg16, resnet18, resnet56 and deeper, the DenseNets) have batch normalization after every
# conv, as resnet20 here.
CASES = [(model, shape) for model in ("lenet5", "baseline", "cifar10", "simple3")
         for shape in (CIFAR, MNIST)] + [(model, CIFAR) for model in
                                          ("resnet20", "inception", "fast93", "alexnet")]


def _patterned(shape, examples, seed):
    """uint8 [examples, H, W, C] images and int [examples] labels: class c's 4x4 pattern."""
    rng = np.random.default_rng(0)  # the same patterns in every split
    height, width, channels = shape
    patterns = rng.choice([-1.0, 1.0], size=(CLASSES, 4, 4, channels))
    blocks = np.kron(patterns, np.ones((1, math.ceil(height / 4), math.ceil(width / 4), 1)))
    blocks = blocks[:, :height, :width]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=examples)
    images = 128 + 50 * blocks[labels] + rng.normal(0, 25, size=(examples, *shape))
    return np.clip(images, 0, 255).astype(np.uint8), labels


class _CrossEntropy(Callback):
    """Each round's last cross-entropy and its top-1 over the round, every 10 steps."""
    every = 10

    def __init__(self):
        self.rounds = []

    def on_step(self, progress):
        metrics = progress.result.metrics
        self.rounds.append((float(metrics.cross_entropy),
                            float(metrics.hits) / float(metrics.examples)))


@pytest.mark.slow
@pytest.mark.parametrize("model, shape", CASES,
                         ids=[f"{model}-{'x'.join(map(str, shape))}" for model, shape in CASES])
def test_the_defaults_make_the_loss_fall(tmp_path, model, shape):
    source = ArraySource(train=_patterned(shape, 1024, seed=1),
                         test=_patterned(shape, 64, seed=2))
    watch = _CrossEntropy()
    convnet.fit(model=model, source=source, train_dir=str(tmp_path), max_steps=STEPS,
                batch_size=BATCH, eval_at_end=False, callbacks=[watch])
    first_loss = watch.rounds[0][0]
    last_losses = [loss for loss, _ in watch.rounds[-5:]]  # one batch each: the median
    last_top1 = np.mean([top1 for _, top1 in watch.rounds[-3:]])
    assert np.median(last_losses) < 0.7 * math.log(CLASSES), (first_loss, watch.rounds)
    assert last_top1 > 3 / CLASSES, watch.rounds
