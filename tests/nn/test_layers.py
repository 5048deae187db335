"""convnet.layers, the facade: every layer name re-exported from its concept module."""

import tensorflow as tf

from convnet.nn import layers
from convnet.nn.layers import base as layers_base
from convnet.nn.layers import elementwise as layers_elementwise
from convnet.nn.layers import initializers as layers_initializers
from convnet.nn.layers import linear as layers_linear
from convnet.nn.layers import normalization as layers_normalization
from convnet.nn.layers import pooling as layers_pooling

# Every module and the names it defines that `convnet.layers` re-exports.
CONCEPTS = {
    layers_base: ["ActivationFn", "Layer", "Sequential", "observe_calls", "check_weight_decay"],
    layers_initializers: ["Init", "TORCH_UNIFORM", "initial_stddev", "initial_kernel",
                          "identity_kernel"],
    layers_linear: ["Conv2D", "Dense"],
    layers_normalization: ["BatchNorm", "LRN"],
    layers_pooling: ["MaxPool", "AvgPool", "GlobalAvgPool", "Flatten"],
    layers_elementwise: ["Activation", "Scale", "Dropout"],
}


def test_layers_reexports_every_name_of_its_modules():
    for module, names in CONCEPTS.items():
        for name in names:
            assert getattr(layers, name) is getattr(module, name), name
    assert sorted(layers.__all__) == sorted(n for names in CONCEPTS.values() for n in names)


def test_every_layer_is_a_layer_and_keeps_its_class_name():
    # Unnamed layers take their tf.Module name from the class, so checkpoints depend on it.
    for name in ("Conv2D", "Dense", "BatchNorm", "LRN", "MaxPool", "AvgPool", "GlobalAvgPool",
                 "Flatten", "Activation", "Scale", "Dropout", "Sequential"):
        cls = getattr(layers, name)
        assert issubclass(cls, layers.Layer) and cls.__name__ == name
    assert layers.Activation(tf.nn.relu).name == "activation"
    assert layers.Conv2D(4).name == "conv2_d" and layers.BatchNorm().name == "batch_norm"


def test_the_research_api_names_re_export_every_public_name_of_the_nn_modules():
    import convnet.layers
    import convnet.ops
    from convnet import layers as layers_alias
    from convnet import nn
    from convnet import ops as ops_alias
    assert ops_alias is convnet.ops and layers_alias is convnet.layers  # plain modules
    for alias, module in [(convnet.ops, nn.ops), (convnet.layers, nn.layers)]:
        assert list(alias.__all__) == list(module.__all__)
        for name in module.__all__:
            assert getattr(alias, name) is getattr(module, name), name
    public_functions = {name for name, value in vars(nn.ops).items()
                        if callable(value) and not name.startswith("_")
                        and getattr(value, "__module__", None) == nn.ops.__name__}
    assert public_functions <= set(nn.ops.__all__)
