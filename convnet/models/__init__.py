"""Model registry: `build_model(name, num_classes, weight_decay)`.

A model is a `convnet.layers.Layer` mapping float32 [batch, size, size, C]
images to [batch, num_classes] logits. Its class attribute `image_size` is the
crop it trains on (24 for the tutorial model), or None for the dataset's own size.
`weight_decay` is the L2 coefficient of every kernel (None: the model's default,
which is no decay except for the tutorial model's 0.004 on its hidden dense layers;
the `fast*` models decay every trainable variable, biases included).

Data-dependent initialisation (optional): a model may define

    init_examples = 5000                      # class attribute: how many images it wants
    def initialize_from_data(self, images):   # float32 [N, H, W, C], N <= init_examples

The trainer calls it once, eagerly, before step 0 and only when the run starts
fresh (not when it resumes), with the first `init_examples` training images
preprocessed as evaluation preprocesses them (normalized, no augmentation) and
cast to float32. It may build the model and must keep whatever it sets in
variables (e.g. a frozen kernel), so a resumed run restores it from the
checkpoint and evaluation, export and inference need not call it. Models
without the method need nothing; `has_data_init(model)` tells them apart.
"""

import functools

from convnet.models.alexnet import AlexNet
from convnet.models.baseline import Baseline
from convnet.models.cifar10 import Cifar10Model
from convnet.models.densenet import DENSENET_CONFIGS, densenet
from convnet.models.fast import fast93, fast94
from convnet.models.inception import Inception
from convnet.models.lenet import LeNet5
from convnet.models.resnet import cifar_resnet, resnet18
from convnet.models.vgg import VGG

MODELS = {
    "cifar10": Cifar10Model,
    "baseline": Baseline,
    "lenet5": LeNet5,
    "alexnet": AlexNet,
    "vgg16": VGG,
    "resnet18": resnet18,
    "inception": Inception,
    "fast93": fast93,
    "fast94": fast94,
    **{f"resnet{depth}": functools.partial(cifar_resnet, depth) for depth in (20, 32, 56, 110)},
    **{name: functools.partial(densenet, name) for name in DENSENET_CONFIGS},
}


def build_model(name: str, num_classes: int = 10, weight_decay=None):
    """Instantiates the model registered as `name` (variables are created on first call)."""
    if name not in MODELS:
        raise ValueError(f"unknown --model={name!r}: choose from {', '.join(sorted(MODELS))}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    if weight_decay is not None and weight_decay < 0:
        raise ValueError(f"--weight_decay must be >= 0, got {weight_decay}")
    return MODELS[name](num_classes=num_classes, weight_decay=weight_decay)


def has_data_init(model) -> bool:
    """Whether `model` wants `initialize_from_data` called before training."""
    return callable(getattr(model, "initialize_from_data", None))


def count_params(model) -> int:
    """Total number of values in the model's variables (trainable and not)."""
    return sum(int(v.shape.num_elements()) for v in model.variables)


def count_trainable_params(model) -> int:
    return sum(int(v.shape.num_elements()) for v in model.trainable_variables)
