"""The model contract: what `convnet.models.build_model` returns and the rest of convnet relies on.

A model is a `Model`, a `convnet.layers.Layer` mapping float32 [batch, H, W, C] images
to [batch, num_classes] logits, with a dynamic batch dimension (one image works).
Variables are created on the first call; their names (`<model name>/<layer>/kernel`)
and attribute paths are what checkpoints store, so they never change once released.

Class attributes (read before the model is built):
  image_size: the square crop, pixels a side, it trains and evaluates on (24 for the
    tutorial model: tutorial augmentation), or None for the dataset's own size
    (pad-and-crop augmentation). Training records it in the run record.
  preferred_optimizer: the optimizer `--optimizer=auto` (the default) trains it with, one
    of convnet.optim.OPTIMIZERS, or None for sgd. lenet5, alexnet, inception and simple3
    name adam: plain SGD at the default 0.1 leaves sigmoid LeNet-5 at chance, sends AlexNet
    and Inception, with little or no batch normalization, to NaN, and leaves simple3 (none)
    at chance in some seeds. Training records the resolved optimizer in the run record.
  init_examples / initialize_from_data: the optional data-dependent initialisation.
    A model that wants it defines

        init_examples = 5000                      # how many training images it wants
        def initialize_from_data(self, images):   # float32 [N, H, W, C], N <= init_examples

    The trainer calls it once, eagerly, before step 0 and only when the run starts
    fresh (not when it resumes), with the first `init_examples` training images
    preprocessed as evaluation preprocesses them (normalized, no augmentation) and
    cast to float32. It may build the model and must keep whatever it sets in
    variables (e.g. a frozen kernel), so a resumed run restores it from the
    checkpoint and evaluation, export and inference need not call it. Models
    without the method need nothing; `has_data_init(model)` tells them apart.

Constructor keywords, the same for every registered model (`factory(num_classes=,
weight_decay=)`, see `convnet.models.MODELS`), validated here with `ValueError`:
  num_classes: number of logits, >= 2 (kept as `self.num_classes`).
  weight_decay: the L2 coefficient (`wd * l2_loss(w)`) of every kernel, >= 0, or None
    for the model's default: no decay, except the tutorial model's 0.004 on its
    hidden dense layers; the `fast*` models decay every trainable variable, biases
    included (kept as `self.weight_decay`).

A model whose layers run one after the other is a `SequentialModel`: it names
itself (`default_name`) and lists its layers (`body_layers`), nothing else.

A new model is one file (a `Model` subclass, or a factory returning one, with its
parameter count worked out in its docstring) and one line in `convnet.models.MODELS`
carrying that count, which tests/models/test_registry.py asserts.
"""

import numbers

from convnet.nn import layers


def has_data_init(model) -> bool:
    """Whether `model` wants `initialize_from_data` called before training."""
    return callable(getattr(model, "initialize_from_data", None))


class Model(layers.Layer):
    """Base class of every registered model (see the module docstring for the contract)."""

    image_size: int | None = None
    preferred_optimizer: str | None = None
    init_examples: int | None = None
    initialize_from_data = None  # or a method (self, images) -> None; then set init_examples

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        size = cls.image_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise TypeError(f"{cls.__name__}.image_size must be None or a positive int, "
                            f"got {size!r}")
        preferred = cls.preferred_optimizer
        if preferred is not None and (not isinstance(preferred, str) or not preferred):
            raise TypeError(f"{cls.__name__}.preferred_optimizer must be None or an optimizer's "
                            f"name, got {preferred!r}")
        count = cls.init_examples
        if has_data_init(cls) and (isinstance(count, bool) or not isinstance(count, int)
                                   or count < 1):
            raise TypeError(f"{cls.__name__} defines initialize_from_data, so init_examples "
                            f"must be a positive int, got {count!r}")

    def __init__(self, num_classes: int = 10, weight_decay: float | None = None,
                 name: str | None = None):
        super().__init__(name=name)
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
                or num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got num_classes="
                             f"{num_classes!r}")
        self.num_classes = int(num_classes)
        self.weight_decay = layers.check_weight_decay(weight_decay, "weight_decay")


class SequentialModel(Model):
    """A Model that applies `body_layers()` in order: a subclass sets `default_name` (its
    variables' prefix, e.g. 'lenet5') and defines `body_layers`.

    The layers are made inside the model's name scope, so their variables are
    `<name>/<layer>/...`, and kept as `self.body` (a `layers.Sequential`), so
    checkpoints hold them as `body/layers/<index>/...`.
    """

    default_name: str = "model"

    def __init__(self, num_classes: int = 10, weight_decay: float | None = None,
                 name: str | None = None):
        super().__init__(num_classes, weight_decay, name=name or self.default_name)
        with self.name_scope:
            self.body = layers.Sequential(self.body_layers(), name="body")

    def body_layers(self) -> list[layers.Layer]:
        """The layers, in order; `self.num_classes` and `self.weight_decay` are set."""
        raise NotImplementedError(f"{type(self).__name__} must define body_layers")

    def forward(self, inputs, training):
        return self.body(inputs, training=training)
