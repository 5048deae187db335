"""Model registry: `build_model(name, num_classes, weight_decay)`.

Every model honours the contract of `convnet.models.base` (a `Model` subclass:
`image_size`, the `num_classes`/`weight_decay` keywords, the optional
`initialize_from_data`/`init_examples` hook). `MODELS` maps each `--model` name to a
`ModelEntry`: the factory, called as `factory(num_classes=..., weight_decay=...)`,
and the parameter count tests/models/test_registry.py asserts for it. Adding a model is its
file under convnet/models/ and one line here.
"""

import dataclasses
from collections.abc import Callable
from functools import partial

from convnet.models.alexnet import AlexNet
from convnet.models.base import Model, has_data_init
from convnet.models.baseline import Baseline
from convnet.models.cifar10 import Cifar10Model
from convnet.models.densenet import densenet
from convnet.models.fast import fast93, fast94
from convnet.models.inception import Inception
from convnet.models.lenet import LeNet5
from convnet.models.resnet import cifar_resnet, resnet18
from convnet.models.simple import Simple3
from convnet.models.vgg import VGG

__all__ = ["MODELS", "Model", "ModelEntry", "build_model", "count_params",
           "count_trainable_params", "has_data_init"]


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
      factory: called as `factory(num_classes=, weight_decay=)`; returns a `Model`.
      params: values in the model's variables (trainable and not, as Keras counts
        them) with 10 classes on `image_size` crops, or 32x32x3 when it is None.
      non_trainable: how many of them are not trainable (BN moving statistics,
        frozen kernels).
    """
    factory: Callable[..., Model]
    params: int
    non_trainable: int = 0

    def __call__(self, num_classes: int = 10, weight_decay=None) -> Model:
        return self.factory(num_classes=num_classes, weight_decay=weight_decay)


# name: ModelEntry(factory, parameters, non-trainable ones); the counts' derivations are
# in each model's docstring.
MODELS: dict[str, ModelEntry] = {
    "cifar10": ModelEntry(Cifar10Model, 1_068_298),
    "baseline": ModelEntry(Baseline, 198_506, 12),
    "lenet5": ModelEntry(LeNet5, 62_006),
    "alexnet": ModelEntry(AlexNet, 9_639_178, 704),
    "vgg16": ModelEntry(VGG, 15_262_026, 8_448),
    "resnet18": ModelEntry(resnet18, 11_183_562, 9_600),
    "resnet20": ModelEntry(partial(cifar_resnet, 20), 271_098, 1_376),
    "resnet32": ModelEntry(partial(cifar_resnet, 32), 466_426, 2_272),
    "resnet56": ModelEntry(partial(cifar_resnet, 56), 857_082, 4_064),
    "resnet110": ModelEntry(partial(cifar_resnet, 110), 1_736_058, 8_096),
    "inception": ModelEntry(Inception, 916_586),
    "fast93": ModelEntry(fast93, 570_296, 1_568),
    "fast94": ModelEntry(fast94, 1_973_944, 2_592),
    "densenet100_12": ModelEntry(partial(densenet, "densenet100_12"), 793_150, 23_988),
    "densenet100_24": ModelEntry(partial(densenet, "densenet100_24"), 3_068_482, 47_976),
    "densenet121": ModelEntry(partial(densenet, "densenet121"), 7_039_818, 83_520),
    "densenet169": ModelEntry(partial(densenet, "densenet169"), 12_651_594, 158_272),
    "densenet201": ModelEntry(partial(densenet, "densenet201"), 18_333_258, 228_928),
    "densenet161": ModelEntry(partial(densenet, "densenet161"), 26_702_122, 219_744),
    "simple3": ModelEntry(Simple3, 33_834),
}


def build_model(name: str, num_classes: int = 10, weight_decay=None) -> Model:
    """Instantiates the model registered as `name` (variables are created on first call).

    Raises:
      ValueError: an unknown name, fewer than 2 classes, a negative weight decay.
      TypeError: the registered factory returned something that is not a `Model`.
    """
    if name not in MODELS:
        raise ValueError(f"unknown --model={name!r}: choose from {', '.join(sorted(MODELS))}")
    model = MODELS[name](num_classes=num_classes, weight_decay=weight_decay)
    if not isinstance(model, Model):
        raise TypeError(f"the factory registered as {name!r} returned a {type(model).__name__}, "
                        f"not a convnet.models.base.Model")
    return model


def count_params(model) -> int:
    """Total number of values in the model's variables (trainable and not)."""
    return sum(int(v.shape.num_elements()) for v in model.variables)


def count_trainable_params(model) -> int:
    return sum(int(v.shape.num_elements()) for v in model.trainable_variables)
