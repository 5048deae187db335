"""Models: the contract, the zoo, and `build_model(name, num_classes, weight_decay)`.

Every model honours the contract of `convnet.models.base` (a `Model` subclass:
`image_size`, the `num_classes`/`weight_decay` keywords, the optional
`initialize_from_data`/`init_examples` hook). `MODELS` maps each `--model` name to a
`ModelEntry`: the factory, called as `factory(num_classes=..., weight_decay=...)`,
and the parameter count tests/models/test_registry.py asserts for it. Adding a model to the
zoo is its file under convnet/models/ and one line here; a model of your own needs neither
(`register`, an entry point, or `--model=package.module:factory`: convnet.models.registry).
"""

from functools import partial

from convnet.models.alexnet import AlexNet
from convnet.models.base import Model, SequentialModel, has_data_init
from convnet.models.baseline import Baseline
from convnet.models.cifar10 import Cifar10Model
from convnet.models.densenet import densenet
from convnet.models.fast import fast93, fast94
from convnet.models.inception import Inception
from convnet.models.lenet import LeNet5
from convnet.models.registry import (
    MODELS,
    ModelEntry,
    build_model,
    check_name,
    count_params,
    count_trainable_params,
    import_path,
    model_help,
    names,
    register,
)
from convnet.models.resnet import cifar_resnet, resnet18
from convnet.models.simple import Simple3
from convnet.models.vgg import VGG

__all__ = ["MODELS", "Model", "ModelEntry", "SequentialModel", "build_model", "check_name",
           "count_params", "count_trainable_params", "has_data_init", "import_path", "model_help",
           "names",
           "register"]


# name: ModelEntry(factory, parameters, non-trainable ones); the counts' derivations are
# in each model's docstring.
_ZOO = {
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
MODELS.update(_ZOO)
