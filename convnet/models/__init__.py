"""Model registry: `build_model(name, num_classes)`.

A model is a `convnet.layers.Layer` mapping float32 [batch, size, size, C]
images to [batch, num_classes] logits, with a class attribute `image_size`
(the crop it trains on).
"""

from convnet.models.cifar10 import Cifar10Model

MODELS = {
    "cifar10": Cifar10Model,
}


def build_model(name: str, num_classes: int = 10):
    """Instantiates the model registered as `name` (variables are created on first call)."""
    if name not in MODELS:
        raise ValueError(f"unknown --model={name!r}: choose from {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes)


def count_params(model) -> int:
    """Total number of values in the model's variables (trainable and not)."""
    return sum(int(v.shape.num_elements()) for v in model.variables)
